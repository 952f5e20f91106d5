"""Delivers the outbox's notices (reminders, expiries, escalations, stale documents, failed posts) to Slack.

Runs every few seconds while the server does. Each attempt at a notice is claimed once in PostgreSQL,
so several replicas never post it twice; a notice Slack keeps refusing is retried a few times, then
left marked failed for the digest to report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from bot.channels import ChannelStore
from bot.slack.sender import PLATFORM, SEND_ERRORS, DeliveryError, SlackSender, parse_key
from escalation.service import Escalation
from handlers.models import Reply
from scheduler.outbox import Outbox

log = logging.getLogger(__name__)


class OutboxDrain:
    def __init__(
        self, sender: SlackSender, outbox: Outbox, channels: ChannelStore, *, escalation: Escalation, every: float
    ) -> None:
        self._sender = sender
        self._outbox = outbox
        self._channels = channels
        self._escalation = escalation
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="slack-outbox-drain")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self.drain_once()
            except Exception:  # a database blip must not end the loop
                log.exception("outbox drain failed; trying again shortly")
            await asyncio.sleep(self._every)

    async def drain_once(self) -> int:
        """Deliver what is owed now; returns how many notices were delivered."""
        delivered = 0
        for notice in await self._outbox.undelivered(PLATFORM):
            if not await self._channels.first_time(PLATFORM, f"outbox:{notice['id']}:{notice['attempts']}"):
                continue  # another replica has this attempt
            try:
                await self._deliver(notice)
            except (DeliveryError, *SEND_ERRORS) as exc:
                log.warning("outbox notice %s not delivered: %s", notice["id"], exc)
                await self._outbox.mark(notice["id"], PLATFORM, delivered=False, error=str(exc)[:500])
                continue
            await self._outbox.mark(notice["id"], PLATFORM, delivered=True)
            delivered += 1
        return delivered

    async def _deliver(self, notice: dict[str, Any]) -> None:
        kind, text, key = notice["kind"], str(notice["text"]), notice.get("conversation_key")
        payload: dict[str, Any] = notice.get("payload") or {}
        if kind == "reply" and key and parse_key(key):
            await self._sender.post_reply(Reply(key, text, payload.get("decision_id")))
        elif kind == "approval_request" and payload.get("approval_id"):
            approval = await self._escalation.approval(str(payload["approval_id"]))
            if approval is not None:
                await self._sender.post_approval(approval, reason=str(payload.get("reason") or approval.rule))
        elif kind == "handoff" and payload.get("handoff_id"):
            handoff = await self._escalation.handoffs.get(str(payload["handoff_id"]))
            await self._sender.post_handoff(handoff, text=text)
        else:
            await self._staff_note(text, payload, key)

    async def _staff_note(self, text: str, payload: dict[str, Any], key: str | None) -> None:
        """Reminders about an approval go in the thread of its card, where the approvers are looking."""
        approval_id = payload.get("approval_id")
        card = await self._channels.card(str(approval_id), PLATFORM) if approval_id else None
        if card is not None:
            await self._sender.client.chat_postMessage(
                channel=card.channel_id, thread_ts=card.message_ref, text=text, reply_broadcast=True
            )
            await self._sender.refresh_approval(str(approval_id))
            return
        await self._sender.post_staff(text, conversation_key=key or payload.get("about"))
