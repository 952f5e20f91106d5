"""Sending to Teams: replies in a turn, proactive posts to stored conversations, staff-channel cards,
cards updated in place. A post that still fails after retries is kept in the outbox, never dropped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationParameters, ConversationReference
from opentelemetry.trace import SpanKind

from bot.channels import ChannelStore
from bot.metrics import metrics
from bot.presentation import words
from bot.presentation.answer import answer_view
from bot.presentation.approval import CardContext, approval_card
from bot.presentation.handoff import handoff_card
from bot.settings import Settings
from bot.teams import render
from bot.teams.references import ReferenceStore
from handlers.models import ApprovalRequest, HandoffNotice, Outbound, Reply, StaffNote
from handlers.tracing import tracer
from scheduler.outbox import Outbox

log = logging.getLogger(__name__)

PLATFORM = "teams"
ATTEMPTS = 3
BACKOFF = 0.3  # seconds, doubled per attempt: a brief connector hiccup, not an outage


class DeliveryError(Exception):
    """A Teams post failed for good (after retries), or there is nowhere to post it."""


def conversation_key(conversation_id: str) -> str:
    return f"{PLATFORM}:{conversation_id}"


def message(*, text: str | None = None, card: dict[str, Any] | None = None) -> Activity:
    attachments = [render.attachment(card)] if card is not None else None
    return Activity(type=ActivityTypes.message, text=text, attachments=attachments)


def reply_activity(reply: Reply) -> Activity:
    """Answers with sources or buttons are cards; everything else is plain text."""
    if reply.citations or reply.buttons:
        return message(text=None, card=render.answer_card(answer_view(reply)))
    return message(text=reply.text)


@dataclass(frozen=True)
class Posted:
    conversation_id: str
    activity_id: str
    reference: dict[str, Any]


class TeamsDelivery:
    def __init__(
        self,
        adapter: CloudAdapter,
        settings: Settings,
        *,
        references: ReferenceStore,
        channels: ChannelStore,
        outbox: Outbox,
    ) -> None:
        self._adapter = adapter
        self._settings = settings
        self._references = references
        self._channels = channels
        self._outbox = outbox
        self._app_id = settings.microsoft_app_id or ""

    @property
    def staff_conversation(self) -> str | None:
        return self._settings.teams_staff_conversation

    async def _retry(self, what: str, attempt: Callable[[], Awaitable[Any]]) -> Any:
        for number in range(1, ATTEMPTS + 1):
            try:
                return await attempt()
            except Exception as exc:  # connector errors come in many types; all are retried alike
                if number == ATTEMPTS:
                    raise DeliveryError(f"{what} failed after {ATTEMPTS} attempts: {exc}") from exc
                log.warning("%s failed (attempt %d): %s", what, number, exc)
                await asyncio.sleep(BACKOFF * 2 ** (number - 1))
        raise AssertionError("unreachable")

    async def send(self, key: str, activity: Activity) -> str | None:
        """Post into a conversation we have seen before (its stored reference); returns the activity id."""
        stored = await self._references.get(key)
        if stored is None:
            raise DeliveryError(f"no Teams conversation reference for {key}")
        reference = ConversationReference().deserialize(stored)
        sent: list[str | None] = []

        async def callback(context: TurnContext) -> None:
            response = await context.send_activity(activity)
            sent.append(response.id if response else None)

        await self._retry(f"posting to {key}", lambda: self._continue(reference, callback))
        return sent[-1] if sent else None

    async def _continue(self, reference: ConversationReference, callback: Callable[[TurnContext], Any]) -> None:
        await self._adapter.continue_conversation(reference, callback, self._app_id)

    async def post_to_staff(self, activity: Activity, *, conversation: str | None = None) -> Posted:
        """A new thread in the staff channel (CloudAdapter.create_conversation; TeamsInfo's helper fails)."""
        channel = conversation or self.staff_conversation
        if not channel:
            raise DeliveryError("TEAMS_STAFF_CONVERSATION is not set, so there is no staff channel to post to")
        tenant = self._settings.microsoft_app_tenant_id
        parameters = ConversationParameters(
            is_group=True,
            bot=ChannelAccount(id=f"28:{self._app_id}"),
            channel_data={"channel": {"id": channel}, **({"tenant": {"id": tenant}} if tenant else {})},
            activity=activity,
            tenant_id=tenant,
        )
        created: list[Posted] = []

        async def callback(context: TurnContext) -> None:
            reference = TurnContext.get_conversation_reference(context.activity)
            created.append(Posted(context.activity.conversation.id, context.activity.id, reference.serialize()))

        await self._retry(
            "posting to the staff channel",
            lambda: self._adapter.create_conversation(
                self._app_id, callback, parameters, channel_id="msteams", service_url=self._settings.teams_service_url
            ),
        )
        return created[-1]

    async def update(self, reference: dict[str, Any], activity_id: str, activity: Activity) -> None:
        """Replace a posted card (everyone in the conversation sees the new one)."""
        parsed = ConversationReference().deserialize(reference)
        activity.id = activity_id

        async def callback(context: TurnContext) -> None:
            await context.update_activity(activity)

        await self._retry(f"updating card {activity_id}", lambda: self._continue(parsed, callback))

    async def update_card(self, item_id: str, content: dict[str, Any], *, version: int | None = None) -> bool:
        """Replace a posted card. With `version` (an approval's), only forwards: nothing is written when the
        card already shows that version or a later one, so racing writers cannot put an earlier state back."""
        if version is None:
            ref = await self._channels.card(item_id, PLATFORM)
            if ref is None:
                return False
            await self.update(ref.reference, ref.message_ref, message(card=content))
            return True
        async with self._channels.showing(item_id, PLATFORM, version=version) as shown:
            if shown is None:
                return False
            await self.update(shown.reference, shown.message_ref, message(card=content))
            return True

    async def card_exists(self, item_id: str) -> bool:
        return await self._channels.card(item_id, PLATFORM) is not None

    async def post_card(self, item_id: str, content: dict[str, Any], *, version: int = 0) -> Posted:
        posted = await self.post_to_staff(message(card=content))
        await self._channels.save_card(
            item_id,
            PLATFORM,
            channel_id=self.staff_conversation or "",
            message_ref=posted.activity_id,
            reference=posted.reference,
            version=version,
        )
        return posted

    async def deliver(self, items: list[Outbound], *, turn: TurnContext | None = None) -> None:
        """Every item goes somewhere: replies to their conversation (in the turn when it is the same one),
        cards and notes to staff. Failures are recorded in the outbox and the rest still go out."""
        here = conversation_key(turn.activity.conversation.id) if turn is not None else None
        for item in items:
            try:
                await self._deliver_one(item, turn=turn if here and _key_of(item) == here else None)
            except Exception as exc:  # one failed item must not stop the others
                await self.record_failure(item, exc)

    async def _deliver_one(self, item: Outbound, *, turn: TurnContext | None) -> None:
        with tracer.start_as_current_span("delivery teams", kind=SpanKind.CLIENT) as span:
            span.set_attributes({"supportbot.platform": PLATFORM, "supportbot.item": type(item).__name__})
            await self._send_item(item, turn=turn)

    async def _send_item(self, item: Outbound, *, turn: TurnContext | None) -> None:
        if isinstance(item, Reply):
            activity = reply_activity(item)
            if turn is not None:
                await self._retry("replying", lambda: turn.send_activity(activity))
            else:
                await self.send(item.conversation_key, activity)
        elif isinstance(item, ApprovalRequest):
            content = render.approval_card(
                approval_card(item.approval, CardContext(reason=item.reason, summary=item.text))
            )
            await self.post_card(item.approval.id, content, version=item.approval.version)
        elif isinstance(item, HandoffNotice):
            await self.post_card(item.handoff.id, render.handoff_card(handoff_card(item.handoff, text=item.text)))
        elif isinstance(item, StaffNote):
            # notes are internal: never into the customer's conversation, only the staff channel
            await self.post_to_staff(message(text=item.text))

    async def record_failure(self, item: Outbound, exc: Exception) -> None:
        log.error("could not deliver %s to Teams: %s", type(item).__name__, exc)
        metrics().outbox_failures.labels(PLATFORM).inc()
        key = item.conversation_key if isinstance(item, Reply) else None
        try:
            await self._outbox.add(
                kind=f"teams_undelivered_{type(item).__name__.lower()}",
                text=plain_text(item),
                source="teams",
                conversation_key=key,
                payload={"error": str(exc)[:500], "platform": PLATFORM},  # Teams retries it, not Slack
            )
        except Exception:  # the database is down too: the log line above is all we can do
            log.exception("could not record the undelivered Teams item either")


def _key_of(item: Outbound) -> str | None:
    return item.conversation_key if isinstance(item, Reply) else None


def plain_text(item: Outbound) -> str:
    if isinstance(item, ApprovalRequest):
        return words.staff_notice(item.approval.id, item.text, reason=item.reason)
    if isinstance(item, HandoffNotice):
        return words.staff_notice(item.handoff.id, item.text)
    return item.text
