"""The Slack adapter: Bolt's `AsyncApp` served at `POST /slack/events` on our aiohttp app, or over Socket Mode.

Listeners only translate: a Slack payload becomes an `InboundMessage` or `InboundAction`, the core
decides, the delivery renders. Message events are stored and queued in PostgreSQL before they are acked
(a middleware, since Bolt acks events before listeners run) and answered by a turn worker; buttons and
commands ack first thing, and the work continues after the ack.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import redis.asyncio as aioredis
from aiohttp import web
from opentelemetry.trace import SpanKind
from psycopg_pool import AsyncConnectionPool
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels import ChannelStore
from bot.metrics import metrics
from bot.queue.intake import Intake
from bot.queue.store import InboundStore
from bot.settings import Settings
from bot.slack import render
from bot.slack.commands import Commands
from bot.slack.delivery import PLATFORM, SlackDelivery
from bot.slack.identity import SlackDirectory, parse_group_map
from bot.slack.interactions import SlackInteractions
from bot.slack.messages import MessageHandler, SlackContext
from bot.slack.outbox_drain import SlackOutboxDrain
from escalation.service import Escalation
from handlers.core import Core
from handlers.decisions import DecisionStore
from handlers.text import clean_payload
from handlers.tracing import tracer
from scheduler.outbox import Outbox

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024**2
MESSAGE_EVENTS = frozenset({"message", "app_mention"})
SOCKET_CLOSE_SECONDS = 5.0
HEALTH_CACHE_SECONDS = 30.0


def make_client(settings: Settings) -> AsyncWebClient:
    """Rate limits (429 + Retry-After), 5xx and dropped connections are retried by slack_sdk itself."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_base_url,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


class SlackAdapter:
    def __init__(
        self,
        *,
        settings: Settings,
        core: Core,
        escalation: Escalation,
        pool: AsyncConnectionPool[Any],
        redis: aioredis.Redis,
        explain: Callable[[str], Awaitable[str]],
        client: AsyncWebClient | None = None,
        drain_every: float = 5.0,
    ) -> None:
        self.settings = settings
        self.client = client or make_client(settings)
        self.socket_mode = settings.slack_app_token is not None
        self.channels = ChannelStore(pool)
        self.outbox = Outbox(pool)
        self.delivery = SlackDelivery(
            self.client,
            channels=self.channels,
            outbox=self.outbox,
            escalation=escalation,
            decisions=DecisionStore(pool),
            staff_channel=settings.slack_staff_channel,
        )
        self.directory = SlackDirectory(
            self.client,
            staff_teams=frozenset(t.strip() for t in settings.slack_staff_teams.split(",") if t.strip()),
            groups=parse_group_map(settings.slack_groups),
            lead_group=settings.lead_group,
        )
        self.messages = MessageHandler(
            delivery=self.delivery,
            directory=self.directory,
            channels=self.channels,
            intake=Intake(InboundStore(pool, queue=settings.turn_queue), redis, platform=PLATFORM),
        )
        self.interactions = SlackInteractions(
            core=core,
            delivery=self.delivery,
            directory=self.directory,
            messages=self.messages,
            escalation=escalation,
            decisions=DecisionStore(pool),
        )
        self.commands = Commands(
            channels=self.channels,
            escalation=escalation,
            explain=explain,
            messages=self.messages,
            delivery=self.delivery,
        )
        self.drain = SlackOutboxDrain(
            self.delivery, self.outbox, self.channels, escalation=escalation, every=drain_every
        )
        self.bolt = self._build_bolt()
        self._socket: AsyncSocketModeHandler | None = None
        self._health: tuple[float, str] | None = None

    def _build_bolt(self) -> AsyncApp:
        secret = self.settings.slack_signing_secret
        app = AsyncApp(
            client=self.client,  # carries the bot token
            signing_secret=secret.get_secret_value() if secret else None,
            request_verification_enabled=not self.socket_mode,
            process_before_response=False,
            logger=logging.getLogger("slack_bolt"),
        )
        app.middleware(self._clean_text)
        app.middleware(self._store_messages)
        app.event(re.compile(".*"))(self._ignore_event)  # unknown event types: acked, ignored
        app.action(re.compile(r"^digest_(promote|demote)$"))(self._on_digest_button)
        app.action(re.compile(f"^{re.escape(render.ACTION_PREFIX)}"))(self._on_button)
        app.action(re.compile(".*"))(self._ignore_action)
        app.view(render.MODAL_DECIDE)(self._on_decide_modal)
        app.view(render.MODAL_NOT_HELPFUL)(self._on_feedback_modal)
        app.command("/support")(self._on_command)
        app.error(self._on_error)
        return app

    @staticmethod
    def _context(context: AsyncBoltContext) -> SlackContext:
        return SlackContext(installing_team=_home(context), bot_user_id=context.bot_user_id)

    @staticmethod
    async def _clean_text(req: AsyncBoltRequest, next: Callable[[], Awaitable[None]]) -> None:
        """Text PostgreSQL cannot store (NUL, lone surrogates) reaches no listener: not a message, not a
        feedback comment, not a deny reason. After Bolt verified the signature over the raw body."""
        req.body = clean_payload(req.body)
        await next()

    async def _store_messages(
        self,
        req: AsyncBoltRequest,
        body: dict[str, Any],
        context: AsyncBoltContext,
        next: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        """Messages are stored and queued before the ack (Bolt acks events before its listeners run, so this
        is a middleware); the turn runs from the queue. If PostgreSQL cannot take the event, Slack gets a
        503 and sends it again later: nothing is acknowledged that is not stored."""
        event = body.get("event") if body.get("type") == "event_callback" else None
        if not isinstance(event, dict) or event.get("type") not in MESSAGE_EVENTS:
            await next()
            return None
        try:
            retry = bool(req.headers.get("x-slack-retry-num"))
            await self.messages.accept(body, self._context(context), retry=retry)
        except Exception:
            log.exception("could not store Slack event %s; Slack will send it again", body.get("event_id"))
            return BoltResponse(status=503, body="")
        return BoltResponse(status=200, body="")

    async def _ignore_event(self, body: dict[str, Any]) -> None:
        log.debug("ignoring Slack event %s", (body.get("event") or {}).get("type"))

    async def _ignore_action(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        log.debug("ignoring Slack action %s", body.get("actions"))

    async def _on_button(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        await self.interactions.on_button(body, action, _home(context))

    async def _on_digest_button(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        await self.interactions.on_digest_button(body, action, _home(context))

    async def _on_decide_modal(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        errors = self.interactions.validate_decision(view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        await self.interactions.on_decide_submission(body, view, _home(context))

    async def _on_feedback_modal(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        await self.interactions.on_feedback_submission(body, view, _home(context))

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
        """Every answer is ephemeral and sent with the ack, so it must be ready inside Slack's 3 s."""
        try:
            team = command.get("user_team") or command.get("team_id")
            actor = await self.directory.actor(
                str(command.get("user_id")), team_id=team, installing_team=_home(context)
            )
            text = await asyncio.wait_for(
                self.commands.run(
                    str(command.get("text") or ""),
                    user=actor.id,
                    role=actor.role,
                    channel=str(command.get("channel_id")),
                    team=team,
                ),
                2.5,
            )
        except Exception:
            log.exception("/support %s failed", command.get("text"))
            text = "Sorry, that did not work; please try again in a moment."
        await ack(response_type="ephemeral", text=text)

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> BoltResponse:
        log.error("Slack request failed: %s (%s)", error, str(body)[:500])
        return BoltResponse(status=200, body="")  # Slack would retry a 500; the failure is ours, logged

    async def handle_http(self, request: web.Request) -> web.Response:
        """Signed requests from Slack; 401 for forged/stale signatures (Bolt), 400 for bodies we cannot read.
        Each request starts a trace (a stored message's turn continues it) and is counted with its ack time."""
        started = time.perf_counter()
        found = metrics()
        found.events_received.labels(PLATFORM).inc()
        with tracer.start_as_current_span("slack receive", kind=SpanKind.SERVER) as span:
            response = await self._handle_http(request)
            span.set_attribute("http.response.status_code", response.status)
        if response.status < 300:
            found.events_acknowledged.labels(PLATFORM).inc()
        found.ack_seconds.labels(PLATFORM).observe(time.perf_counter() - started)
        return response

    async def _handle_http(self, request: web.Request) -> web.Response:
        try:
            body = await request.text()
        except UnicodeDecodeError as exc:
            log.warning("unreadable Slack request body: %s", exc)
            return web.json_response({"error": "unreadable body"}, status=400)
        problem = _malformed(body, request.content_type)
        if problem:  # Bolt would crash or answer 404 on these; only signed requests learn why
            if not self._signed(request, body):
                return web.json_response({"error": "invalid signature"}, status=401)
            log.warning("malformed Slack request: %s", problem)
            return web.json_response({"error": problem}, status=400)
        bolt_request = await to_bolt_request(request)
        try:
            response = await self.bolt.async_dispatch(bolt_request)
        except Exception:
            log.exception("Bolt could not dispatch a Slack request")
            return web.json_response({"error": "malformed request"}, status=400)
        return await to_aiohttp_response(response)

    def _signed(self, request: web.Request, body: str) -> bool:
        """Only signed requests learn that their body is malformed; the rest get Bolt's 401."""
        secret = self.settings.slack_signing_secret
        if secret is None:
            return True
        return SignatureVerifier(secret.get_secret_value()).is_valid(
            body, request.headers.get("X-Slack-Request-Timestamp", ""), request.headers.get("X-Slack-Signature", "")
        )

    def mount(self, app: web.Application) -> None:
        app.router.add_post("/slack/events", self.handle_http)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)

    async def _start(self, _: web.Application) -> None:
        if not self.settings.slack_staff_channel:
            log.warning("SLACK_STAFF_CHANNEL is not set: approval and hand-off cards cannot be posted")
        self.drain.start()
        if self.socket_mode and self.settings.slack_app_token:
            self._socket = TracedSocketMode(self.bolt, self.settings.slack_app_token.get_secret_value())
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("Slack connected over Socket Mode")

    async def _stop(self, _: web.Application) -> None:
        await self.drain.stop()
        if self._socket is not None:
            # a shutdown must not wait on a websocket that never answers its close (seen hanging in a test run)
            try:
                await asyncio.wait_for(self._socket.close_async(), SOCKET_CLOSE_SECONDS)  # type: ignore[no-untyped-call]
            except TimeoutError:
                log.warning("Socket Mode connection did not close within %.0f s; leaving it", SOCKET_CLOSE_SECONDS)

    async def health(self) -> str:
        """`auth.test`, cached briefly so a health probe cannot exhaust the rate limit."""
        now = time.monotonic()
        if self._health and now - self._health[0] < HEALTH_CACHE_SECONDS:
            return self._health[1]
        try:
            response = await self.client.auth_test()
            status = "ok" if response.get("ok") else f"error: {response.get('error')}"
        except SlackApiError as exc:
            status = f"error: {exc.response.get('error', exc.response.status_code)}"
        except Exception as exc:  # whatever fails is the health answer
            status = f"error: {type(exc).__name__}: {exc}"
        self._health = (now, status)
        return status


class TracedSocketMode(AsyncSocketModeHandler):
    """Socket Mode requests never pass `handle_http`: traced and counted here the same way."""

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.perf_counter()
        found = metrics()
        found.events_received.labels(PLATFORM).inc()
        with tracer.start_as_current_span("slack receive", kind=SpanKind.SERVER) as span:
            span.set_attribute("supportbot.transport", "socket_mode")
            await super().handle(client, req)
        found.events_acknowledged.labels(PLATFORM).inc()
        found.ack_seconds.labels(PLATFORM).observe(time.perf_counter() - started)


def _home(context: AsyncBoltContext) -> str | None:
    """The team that installed the app, from `auth.test` on our own token, never from the request:
    in Slack Connect the request's `team_id` can be the customer's workspace."""
    result = context.authorize_result
    return result.team_id if result is not None else None


def _malformed(body: str, content_type: str) -> str | None:
    """Bolt answers 404 or crashes on bodies Slack never sends; we answer 400 and log instead."""
    if not body.strip():
        return "empty body"
    if content_type == "application/json":
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):  # nesting deep enough to exhaust the parser is not Slack's
            return "body is not JSON"
        return None if isinstance(parsed, dict) and parsed.get("type") else "JSON without a type"
    if "payload=" in body:
        raw = parse_qs(body).get("payload", [""])[0]
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):
            return "interactive payload is not JSON"
        return None if isinstance(payload, dict) and payload.get("type") else "interactive payload without a type"
    if "command=" not in body and "ssl_check=" not in body:
        return "unknown form body"
    return None
