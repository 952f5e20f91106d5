"""Delivers the outbox's notices (reminders, expiries, escalations, stale documents, failed posts) to Slack.

Runs every few seconds while the server does. `Outbox.drain` keeps replicas from posting a notice
twice and retries what Slack refuses a few times, then leaves it marked failed for the digest.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.channels import ChannelStore
from bot.periodic import Periodic
from bot.slack.delivery import PLATFORM, SlackDelivery, parse_key
from escalation.service import Escalation
from handlers.models import Reply
from scheduler.outbox import Outbox

log = logging.getLogger(__name__)


class SlackOutboxDrain:
    def __init__(
        self, delivery: SlackDelivery, outbox: Outbox, channels: ChannelStore, *, escalation: Escalation, every: float
    ) -> None:
        self._delivery = delivery
        self._outbox = outbox
        self._channels = channels
        self._escalation = escalation
        self._loop = Periodic("slack-outbox-drain", self.drain_once, every=every)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def drain_once(self) -> int:
        """Deliver what is owed now; returns how many notices were delivered."""
        return await self._outbox.drain(PLATFORM, self._deliver)

    async def _deliver(self, notice: dict[str, Any]) -> None:
        kind, text, key = notice["kind"], str(notice["text"]), notice.get("conversation_key")
        payload: dict[str, Any] = notice.get("payload") or {}
        if kind == "reply" and key and parse_key(key):
            await self._delivery.post_reply(Reply(key, text, payload.get("decision_id")))
        elif kind == "approval_request" and payload.get("approval_id"):
            approval = await self._escalation.approval(str(payload["approval_id"]))
            if approval is not None:
                await self._delivery.post_approval(approval, reason=str(payload.get("reason") or approval.rule))
        elif kind == "handoff" and payload.get("handoff_id"):
            handoff = await self._escalation.handoffs.get(str(payload["handoff_id"]))
            await self._delivery.post_handoff(handoff, text=text)
        else:
            await self._staff_note(text, payload, key)

    async def _staff_note(self, text: str, payload: dict[str, Any], key: str | None) -> None:
        """Reminders about an approval go in the thread of its card, where the approvers are looking."""
        approval_id = payload.get("approval_id")
        card = await self._channels.card(str(approval_id), PLATFORM) if approval_id else None
        if card is not None:
            await self._delivery.client.chat_postMessage(
                channel=card.channel_id, thread_ts=card.message_ref, text=text, reply_broadcast=True
            )
            await self._delivery.refresh_approval(str(approval_id))
            return
        await self._delivery.post_staff(text, conversation_key=key or payload.get("about"))
