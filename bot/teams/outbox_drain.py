"""Delivers the notices scheduled jobs leave in the outbox (reminders, expiries, escalations, stale docs)."""

from __future__ import annotations

import logging
from typing import Any

from bot.periodic import Periodic
from bot.teams.delivery import PLATFORM, TeamsDelivery, message
from scheduler.outbox import Outbox

log = logging.getLogger(__name__)

EVERY = 5.0  # seconds between passes: notices are minutes-scale (reminders, SLAs), not chat-scale


async def drain_once(outbox: Outbox, delivery: TeamsDelivery) -> int:
    """One pass; returns how many were delivered. `teams:` notices go to their conversation, the rest to staff."""
    return await outbox.drain(PLATFORM, lambda notice: _deliver(notice, delivery))


async def _deliver(notice: dict[str, Any], delivery: TeamsDelivery) -> None:
    key = notice["conversation_key"]
    if key:
        await delivery.send(str(key), message(text=str(notice["text"])))
    else:
        await delivery.post_to_staff(message(text=str(notice["text"])))


def outbox_drain(outbox: Outbox, delivery: TeamsDelivery, *, every: float = EVERY) -> Periodic:
    return Periodic("teams-outbox-drain", lambda: drain_once(outbox, delivery), every=every)
