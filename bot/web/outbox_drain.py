"""Delivers the outbox's notices owed to the web playground (reminders, expiries, escalations, replies to its
conversations) into its channels, like Slack's and Teams' drains do; a card a notice is about is redrawn."""

from __future__ import annotations

import logging
import time
from typing import Any

from bot.periodic import Periodic
from bot.web.front import PLATFORM, WebFront
from escalation.service import Escalation
from handlers.models import ApprovalRequest, HandoffNotice, Reply, StaffNote
from scheduler.outbox import Outbox

log = logging.getLogger(__name__)
EVERY = 3.0  # seconds between passes: notices are minutes-scale, but a playground is watched
FORGET_EVERY = 3600.0  # seconds between clean-ups of posts past their retention


class WebOutboxDrain:
    def __init__(self, front: WebFront, outbox: Outbox, escalation: Escalation, *, retention_days: int) -> None:
        self._front = front
        self._outbox = outbox
        self._escalation = escalation
        self._retention_days = retention_days
        self._forgotten_at = -FORGET_EVERY

    def loop(self, *, every: float = EVERY) -> Periodic:
        return Periodic("web-outbox-drain", self.drain_once, every=every)

    async def drain_once(self) -> int:
        now = time.monotonic()
        if now - self._forgotten_at >= FORGET_EVERY:
            self._forgotten_at = now
            forgotten = await self._front.posts.forget(older_than_days=self._retention_days)
            if forgotten:
                log.info("deleted %d playground post(s) older than %d days", forgotten, self._retention_days)
        return await self._outbox.drain(PLATFORM, self._deliver)

    async def _deliver(self, notice: dict[str, Any]) -> None:
        kind, text, key = notice["kind"], str(notice["text"]), notice.get("conversation_key")
        payload: dict[str, Any] = notice.get("payload") or {}
        delivery = f"outbox:{notice['id']}"
        if kind == "reply" and key:
            await self._front.deliver(Reply(str(key), text, payload.get("decision_id")), delivery=delivery)
            return
        if kind == "approval_request" and payload.get("approval_id"):
            approval = await self._escalation.approval(str(payload["approval_id"]))
            if approval is not None:
                reason = str(payload.get("reason") or approval.rule)
                item = ApprovalRequest(approval, text, reason, approval.decision_id)
                await self._front.deliver(item, delivery=delivery)
                return
        if kind == "handoff" and payload.get("handoff_id"):
            handoff = await self._escalation.handoffs.get(str(payload["handoff_id"]))
            await self._front.deliver(HandoffNotice(handoff, text), delivery=delivery)
            return
        await self._front.deliver(StaffNote(key or payload.get("about"), text), delivery=delivery)
        if payload.get("approval_id"):  # a reminder or an expiry: the card shows the approval as it is now
            await self._front.refresh(str(payload["approval_id"]), "approval")
