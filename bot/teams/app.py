"""`POST /api/messages`: parse, authenticate (401 for any bad token, never 500), de-duplicate, dispatch.

Message activities are stored and queued in PostgreSQL, then acknowledged (202); a turn worker answers
them (`handlers.turns`, `bot.teams.bot`). Invokes are answered in the request, since their response is
the refreshed card."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from botbuilder.core import serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from opentelemetry.trace import SpanKind

from bot.channels import ChannelStore
from bot.core_factory import build_core, start_language_model
from bot.dedupe import EventDeduper
from bot.metrics import metrics
from bot.periodic import Periodic
from bot.providers.openai.chat import OpenAIChatModel
from bot.queue.intake import Intake
from bot.queue.store import InboundStore
from bot.services import Services
from bot.settings import Settings
from bot.teams.auth import build_adapter
from bot.teams.bot import TeamsBot
from bot.teams.delivery import PLATFORM, TeamsDelivery, conversation_key
from bot.teams.identity import Directory
from bot.teams.interactions import TeamsInteractions
from bot.teams.outbox_drain import outbox_drain
from bot.teams.references import ReferenceStore
from bot.teams.turns import TurnFacts
from handlers.core import Core
from handlers.decisions import DecisionStore
from handlers.text import clean_payload
from handlers.tracing import tracer
from scheduler.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass
class TeamsRuntime:
    adapter: CloudAdapter
    bot: TeamsBot
    interactions: TeamsInteractions
    delivery: TeamsDelivery
    deduper: EventDeduper  # invokes (a repeated click); messages are de-duplicated by the intake
    intake: Intake
    drain: Periodic


@dataclass
class TeamsSlot:
    """Filled at start-up (building the core needs the running loop); the app is frozen by then."""

    runtime: TeamsRuntime | None = None


TEAMS: web.AppKey[TeamsSlot] = web.AppKey("teams", TeamsSlot)


def build_runtime(
    services: Services, redis: aioredis.Redis, core: Core, *, settings: Settings | None = None, **auth: Any
) -> TeamsRuntime:
    """Everything Teams needs; `settings` and `auth` let tests point it at fakes with authentication off."""
    config = settings or services.settings
    adapter = build_adapter(config, **auth)
    channels = ChannelStore(services.pool)
    references = ReferenceStore(services.pool)
    outbox = Outbox(services.pool)
    delivery = TeamsDelivery(adapter, config, references=references, channels=channels, outbox=outbox)
    facts = TurnFacts(Directory.from_settings(config), channels, references, redis)
    interactions = TeamsInteractions(core, services.escalation, facts, delivery, decisions=DecisionStore(services.pool))
    return TeamsRuntime(
        adapter=adapter,
        bot=TeamsBot(adapter, config.microsoft_app_id or "", facts, delivery, interactions),
        interactions=interactions,
        delivery=delivery,
        deduper=EventDeduper(redis, channels, platform=PLATFORM),
        intake=Intake(InboundStore(services.pool, queue=config.turn_queue), redis, platform=PLATFORM),
        drain=outbox_drain(outbox, delivery),
    )


def mount_teams(
    app: web.Application,
    services: Services,
    redis: aioredis.Redis,
    *,
    core: Core | None = None,
    settings: Settings | None = None,
    drain: bool = True,
    **auth: Any,
) -> None:
    """Serve `POST /api/messages`; build the core (unless given) and run the outbox drain while the app runs."""

    slot = app[TEAMS] = TeamsSlot()

    model: list[OpenAIChatModel] = []

    async def start(app: web.Application) -> None:
        chosen = core
        if chosen is None:  # the same core as every front end: with the configured language model, if any
            built = await start_language_model(services.settings)
            model.extend([built] if built else [])
            chosen = await build_core(services, language_model=built)
        slot.runtime = build_runtime(services, redis, chosen, settings=settings, **auth)
        if drain:
            slot.runtime.drain.start()

    async def stop(app: web.Application) -> None:
        if slot.runtime is not None:
            await slot.runtime.drain.stop()
        for opened in model:
            await opened.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/api/messages", messages)


def _bad(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


async def messages(request: web.Request) -> web.Response:
    """Each activity starts a trace (a stored message's turn continues it) and is counted with its ack time."""
    started = time.perf_counter()
    found = metrics()
    found.events_received.labels(PLATFORM).inc()
    with tracer.start_as_current_span("teams receive", kind=SpanKind.SERVER) as span:
        response = await _messages(request)
        span.set_attribute("http.response.status_code", response.status)
    if response.status < 300:
        found.events_acknowledged.labels(PLATFORM).inc()
    found.ack_seconds.labels(PLATFORM).observe(time.perf_counter() - started)
    return response


async def _messages(request: web.Request) -> web.Response:
    runtime = request.app[TEAMS].runtime
    if runtime is None:
        return _bad(503, "Teams is starting")
    if "application/json" not in request.headers.get("Content-Type", ""):
        return _bad(415, "expected an application/json activity")
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # nesting deep enough to exhaust the parser is no activity
        return _bad(400, "the body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("type"), str) or not body["type"]:
        return _bad(400, "the body is not an activity")
    try:
        body = clean_payload(body)  # text PostgreSQL cannot store reaches neither the queue nor a click
        activity: Activity = Activity().deserialize(body)
    except Exception:  # msrest raises several types for wrongly typed fields
        return _bad(400, "the activity could not be read")
    header = request.headers.get("Authorization") or None
    try:
        authenticated = await runtime.adapter.bot_framework_authentication.authenticate_request(activity, header)
    except Exception as exc:  # every failure to authenticate (bad signature, garbage, unknown key) is a 401
        log.info("refused a Teams request: %s", exc)
        return _bad(401, "unauthorized")
    if activity.type not in {ActivityTypes.message, ActivityTypes.invoke}:
        return web.Response(status=200)  # conversation updates, reactions, …: nothing to do
    problem = _missing(activity)
    if problem:
        return _bad(400, problem)
    if activity.type == ActivityTypes.message:
        return await _store(runtime, body, activity)
    duplicate = not await runtime.deduper.first_time(f"{activity.conversation.id}:{activity.id}")
    return await _invoke(runtime, authenticated, activity, duplicate=duplicate)


def _missing(activity: Activity) -> str | None:
    if not activity.id:
        return "the activity has no id"
    if not activity.service_url:
        return "the activity has no serviceUrl"
    if activity.conversation is None or not activity.conversation.id:
        return "the activity has no conversation"
    if activity.from_property is None or not activity.from_property.id:
        return "the activity has no sender"
    return None


async def _store(runtime: TeamsRuntime, body: dict[str, Any], activity: Activity) -> web.Response:
    """Stored and queued, then acknowledged; a retry or duplicate of a stored activity is acknowledged only.
    If PostgreSQL cannot take it the connector gets a 503 and sends it again."""
    try:
        await runtime.intake.accept(
            f"{activity.conversation.id}:{activity.id}",
            conversation_key=conversation_key(activity.conversation.id),
            payload=body,
            # the channel's time of the message orders a conversation's turns; naive means UTC here
            sent_at=activity.timestamp if isinstance(activity.timestamp, datetime) else None,
        )
    except Exception:
        log.exception("could not store Teams activity %s; the connector will send it again", activity.id)
        return _bad(503, "the message could not be stored; try again")
    return web.Response(status=202)


async def _invoke(runtime: TeamsRuntime, authenticated: Any, activity: Activity, *, duplicate: bool) -> web.Response:
    async def logic(context: Any) -> None:
        await runtime.interactions.handle(context, duplicate=duplicate)

    try:
        response = await runtime.adapter.process_activity(authenticated, activity, logic)
    except Exception:
        log.exception("Teams invoke %s could not be processed", activity.id)
        return _bad(500, "the action could not be processed")
    if response is None:
        return web.Response(status=200)
    body = response.body if isinstance(response.body, dict | list) or response.body is None else None
    if body is None and response.body is not None:
        body = serializer_helper(response.body)
    return web.json_response(body, status=int(response.status))
