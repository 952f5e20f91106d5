"""Delivers the core's outbound items to Slack and keeps staff cards up to date.

Customer-facing replies go to the conversation's thread; approval and hand-off cards go to the staff
channel; staff notes go privately to the person who clicked, or to the staff channel — never into a
shared channel. A message Slack still refuses after the client's retries is written to the outbox
(retried later by the drain loop, reported in the digest), never dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientError
from opentelemetry.trace import SpanKind
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels import ChannelStore
from bot.metrics import metrics
from bot.presentation import words
from bot.presentation.answer import answer_view
from bot.presentation.approval import CardContext, approval_card, outcome_of
from bot.presentation.handoff import handoff_card
from bot.presentation.model import ApprovalCard, Notice
from bot.slack import render
from escalation.models import Approval, Handoff
from escalation.service import Escalation
from handlers.decisions import DecisionStore
from handlers.models import ApprovalRequest, HandoffNotice, Outbound, Reply
from handlers.tracing import tracer
from scheduler.outbox import Outbox

log = logging.getLogger(__name__)

PLATFORM = "slack"
SEND_ERRORS = (SlackApiError, ClientError, OSError, TimeoutError)


class DeliveryError(Exception):
    """Slack would not take a message; the text says why (channel missing, permission, outage)."""


def conversation_key(channel: str, thread_ts: str) -> str:
    return f"{PLATFORM}:{channel}:{thread_ts}"


def parse_key(key: str) -> tuple[str, str] | None:
    """`slack:C123:1700000000.0001` → ("C123", "1700000000.0001"); None for other platforms' keys."""
    parts = key.split(":")
    if len(parts) != 3 or parts[0] != PLATFORM:
        return None
    return parts[1], parts[2]


@dataclass(frozen=True)
class Clicker:
    """The person whose click or command produced the items: private notes go to them."""

    user: str
    channel: str | None
    thread_ts: str | None = None


class SlackDelivery:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channels: ChannelStore,
        outbox: Outbox,
        escalation: Escalation,
        decisions: DecisionStore,
        staff_channel: str | None,
    ) -> None:
        self.client = client
        self._channels = channels
        self._outbox = outbox
        self._escalation = escalation
        self._decisions = decisions
        self.staff_channel = staff_channel

    async def deliver(
        self,
        items: list[Outbound],
        *,
        clicker: Clicker | None = None,
        source: str = "turn",
        tag: dict[str, Any] | None = None,
    ) -> None:
        """`tag`: message metadata for replies, so a re-run of the turn can tell it was sent."""
        for item in items:
            try:
                await self.deliver_one(item, clicker=clicker, tag=tag)
            except (DeliveryError, *SEND_ERRORS) as exc:
                await self._record_failure(item, exc, source=source)

    async def deliver_one(
        self, item: Outbound, *, clicker: Clicker | None = None, tag: dict[str, Any] | None = None
    ) -> None:
        with tracer.start_as_current_span("delivery slack", kind=SpanKind.CLIENT) as span:
            span.set_attributes({"supportbot.platform": PLATFORM, "supportbot.item": type(item).__name__})
            await self._send_item(item, clicker=clicker, tag=tag)

    async def _send_item(self, item: Outbound, *, clicker: Clicker | None, tag: dict[str, Any] | None) -> None:
        if isinstance(item, Reply):
            await self.post_reply(item, tag=tag)
        elif isinstance(item, ApprovalRequest):
            await self.post_approval(item.approval, reason=item.reason)
        elif isinstance(item, HandoffNotice):
            await self.post_handoff(item.handoff, text=item.text)
        elif clicker is not None:
            await self.tell_privately(clicker, item.text)
        else:
            await self.post_staff(item.text, conversation_key=item.conversation_key)

    async def post_reply(self, reply: Reply, *, tag: dict[str, Any] | None = None) -> str:
        where = parse_key(reply.conversation_key)
        if where is None:
            raise DeliveryError(f"{reply.conversation_key} is not a Slack conversation")
        channel, thread_ts = where
        answer = answer_view(reply)
        response = await self.client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=render.reply_text(answer),
            blocks=render.reply_blocks(answer),
            unfurl_links=False,
            metadata=tag,
        )
        return str(response.get("ts", ""))

    async def tagged_in_thread(self, conversation_key: str, tag: dict[str, Any]) -> bool:
        """Is a message carrying this metadata already in the thread? (`conversations.replies`)"""
        where = parse_key(conversation_key)
        if where is None:
            return False
        cursor: str | None = None
        while True:
            response = await self.client.conversations_replies(
                channel=where[0], ts=where[1], include_all_metadata=True, limit=200, cursor=cursor
            )
            for found in response.get("messages") or []:
                metadata = found.get("metadata") or {}
                if (
                    metadata.get("event_type") == tag["event_type"]
                    and metadata.get("event_payload") == tag["event_payload"]
                ):
                    return True
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return False

    async def post_staff(self, text: str, *, conversation_key: str | None = None) -> None:
        channel = self._require_staff_channel()
        link = await self.thread_link(conversation_key) if conversation_key else None
        content = render.notice_blocks(Notice(text, link))
        await self.client.chat_postMessage(channel=channel, text=render.clip(text, 3900), blocks=content)

    async def tell_privately(self, clicker: Clicker, text: str) -> None:
        if clicker.channel is None:
            await self.client.chat_postMessage(channel=clicker.user, text=text)  # a DM
            return
        await self.client.chat_postEphemeral(
            channel=clicker.channel, user=clicker.user, text=text, thread_ts=clicker.thread_ts
        )

    async def post_approval(self, approval: Approval, *, reason: str) -> None:
        if await self._channels.card(approval.id, PLATFORM) is not None:
            await self.refresh_approval(approval.id)  # posted already (a re-run of its turn): one card only
            return
        channel = self._require_staff_channel()
        link = await self.thread_link(approval.conversation_key)
        card = await self._approval_card(approval, reason=reason, link=link)
        response = await self.client.chat_postMessage(
            channel=channel, text=render.card_text(card), blocks=render.approval_card(card)
        )
        # what the card needs again when it is refreshed, so a refresh costs Slack one call, not two
        await self._channels.save_card(
            approval.id,
            PLATFORM,
            channel_id=channel,
            message_ref=str(response["ts"]),
            reference={"reason": reason, "link": link},
            version=approval.version,
        )

    async def refresh_approval(self, approval_id: str) -> bool:
        """Update the card in place after a decision: who, when, outcome, result; buttons gone. Only ever
        forwards: the card is written when the approval's version is newer than the one it shows (True)."""
        card = await self._channels.card(approval_id, PLATFORM)
        approval = await self._escalation.approval(approval_id)
        if card is None or approval is None:
            return False
        reason = str(card.reference.get("reason", approval.rule))
        content = await self._approval_blocks(approval, reason=reason, link=card.reference.get("link"))
        return await self.show_approval(approval, content)

    async def show_approval(self, approval: Approval, content: list[dict[str, Any]]) -> bool:
        """Write `content` (the card of `approval` as it is) unless the card already shows this or a later
        version of it; two processes racing cannot put an earlier state over a later one."""
        try:
            async with self._channels.showing(approval.id, PLATFORM, version=approval.version) as card:
                if card is None:
                    log.debug("the card of %s already shows version %d or later", approval.id, approval.version)
                    return False
                await self.client.chat_update(
                    channel=card.channel_id,
                    ts=card.message_ref,
                    text=render.outcome_text(outcome_of(approval)),
                    blocks=content,
                )
                return True
        except SEND_ERRORS as exc:
            log.warning("could not update the card of %s: %s", approval.id, exc)
            return False

    async def _approval_blocks(self, approval: Approval, *, reason: str, link: str | None) -> list[dict[str, Any]]:
        return render.approval_card(await self._approval_card(approval, reason=reason, link=link))

    async def _approval_card(self, approval: Approval, *, reason: str, link: str | None) -> ApprovalCard:
        record = await self._decisions.get(approval.decision_id) if approval.decision_id else None
        # the message that started the workflow, not the answer to its last question ("$40")
        request_text = approval.request_text or (record.inbound if record else None)
        confidence = None
        if record is not None:
            confidence = record.route_confidence if record.route_confidence is not None else record.confidence
        context = CardContext(
            reason=reason,
            request_text=request_text,
            confidence=confidence,
            conversation_link=link,
            undoable=self._escalation.undoable(approval),
        )
        return approval_card(approval, context)

    async def post_handoff(self, handoff: Handoff, *, text: str) -> None:
        channel = self._require_staff_channel()
        existing = await self._channels.card(handoff.id, PLATFORM)
        link = existing.reference.get("link") if existing else await self.thread_link(handoff.conversation_key)
        card = handoff_card(handoff, text=text, conversation_link=link)
        content = render.handoff_card(card)
        if existing is not None:  # an escalation or reminder about a card already posted: update it, note it
            await self.client.chat_update(
                channel=existing.channel_id, ts=existing.message_ref, text=text, blocks=content
            )
            await self.client.chat_postMessage(channel=existing.channel_id, thread_ts=existing.message_ref, text=text)
            return
        response = await self.client.chat_postMessage(channel=channel, text=card.title, blocks=content)
        await self._channels.save_card(
            handoff.id,
            PLATFORM,
            channel_id=channel,
            message_ref=str(response["ts"]),
            reference={"text": text, "link": link},
        )

    async def refresh_handoff(self, handoff_id: str) -> None:
        card = await self._channels.card(handoff_id, PLATFORM)
        if card is None:
            return
        handoff = await self._escalation.handoffs.get(handoff_id)
        content = render.handoff_card(
            handoff_card(
                handoff, text=str(card.reference.get("text", "")), conversation_link=card.reference.get("link")
            )
        )
        try:
            await self.client.chat_update(
                channel=card.channel_id,
                ts=card.message_ref,
                text=f"{words.HANDOFF} {handoff.state.value}",
                blocks=content,
            )
        except SEND_ERRORS as exc:
            log.warning("could not update the card of %s: %s", handoff_id, exc)

    async def thread_link(self, conversation_key: str | None) -> str | None:
        where = parse_key(conversation_key or "")
        if where is None:
            return None
        try:
            response = await self.client.chat_getPermalink(channel=where[0], message_ts=where[1])
            return str(response.get("permalink") or "") or None
        except SEND_ERRORS as exc:  # a card without a link is still a card
            log.info("no permalink for %s: %s", conversation_key, exc)
            return None

    def _require_staff_channel(self) -> str:
        if not self.staff_channel:
            raise DeliveryError("SLACK_STAFF_CHANNEL is not set, so staff cards have nowhere to go")
        return self.staff_channel

    async def _record_failure(self, item: Outbound, exc: BaseException, *, source: str) -> None:
        error = _describe(exc)
        log.error("could not deliver %s to Slack: %s", type(item).__name__, error)
        metrics().outbox_failures.labels(PLATFORM).inc()
        kind, key, payload = _outbox_shape(item)
        try:
            await self._outbox.add(
                kind=kind,
                text=getattr(item, "text", ""),
                source=f"slack:{source}",
                conversation_key=key,
                payload={**payload, "error": error, "platform": PLATFORM},
            )
        except Exception:  # the database is down too: the log line above is all that is left
            log.exception("could not record the undelivered %s", type(item).__name__)


def _outbox_shape(item: Outbound) -> tuple[str, str | None, dict[str, Any]]:
    if isinstance(item, Reply):
        return "reply", item.conversation_key, {"decision_id": item.decision_id}
    if isinstance(item, ApprovalRequest):
        return (
            "approval_request",
            item.approval.conversation_key,
            {"approval_id": item.approval.id, "reason": item.reason},
        )
    if isinstance(item, HandoffNotice):
        return "handoff", item.handoff.conversation_key, {"handoff_id": item.handoff.id}
    return "staff_note", None, {"about": item.conversation_key}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return f"Slack said {exc.response.get('error', exc.response.status_code)}"
    return f"{type(exc).__name__}: {exc}"
