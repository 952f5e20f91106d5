"""Delivers the notices scheduled jobs leave in the outbox (reminders, expiries, escalations, stale docs)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from bot.teams.delivery import PLATFORM, TeamsDelivery, message
from scheduler.outbox import Outbox

log = logging.getLogger(__name__)

EVERY = 5.0  # seconds between passes: notices are minutes-scale (reminders, SLAs), not chat-scale


async def drain_once(outbox: Outbox, delivery: TeamsDelivery) -> int:
    """One pass; returns how many were delivered. `teams:` notices go to their conversation, the rest to staff."""
    delivered = 0
    for notice in await outbox.undelivered(PLATFORM):
        try:
            await _deliver(notice, delivery)
        except Exception as exc:  # recorded per notice; retried on later passes up to the outbox's limit
            log.warning("outbox notice %s not delivered to Teams: %s", notice["id"], exc)
            await outbox.mark(notice["id"], PLATFORM, delivered=False, error=str(exc)[:500])
        else:
            await outbox.mark(notice["id"], PLATFORM, delivered=True)
            delivered += 1
    return delivered


async def _deliver(notice: dict[str, Any], delivery: TeamsDelivery) -> None:
    key = notice["conversation_key"]
    if key:
        await delivery.send(str(key), message(text=str(notice["text"])))
    else:
        await delivery.post_to_staff(message(text=str(notice["text"])))


class OutboxDrain:
    def __init__(self, outbox: Outbox, delivery: TeamsDelivery, *, every: float = EVERY) -> None:
        self._outbox = outbox
        self._delivery = delivery
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="teams-outbox-drain")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await drain_once(self._outbox, self._delivery)
            except Exception:  # e.g. the database is briefly away; the next pass tries again
                log.exception("Teams outbox pass failed")
            await asyncio.sleep(self._every)
