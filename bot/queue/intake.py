"""The ack path: an inbound event is cleaned, stored and queued in PostgreSQL before the platform is told
"got it". PostgreSQL's unique key refuses retries and duplicates durably; Redis only answers "seen
before" faster for retries, and an empty or absent Redis changes nothing but speed. A first delivery
neither asks nor tells Redis: under load every round trip to another process is a chance to lose the
CPU, and the ack's latency is the sum of them (docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from bot.dedupe import REMEMBER_SECONDS
from bot.metrics import metrics
from bot.queue.store import InboundStore
from handlers.text import clean_payload
from handlers.tracing import traceparent

log = logging.getLogger(__name__)

REDIS_BUDGET_SECONDS = 0.2  # a slow Redis must not eat the platform's ack budget
# Slack gives up on an ack after 3 s; the pool would wait 10 s for a connection to a stopped PostgreSQL
STORE_BUDGET_SECONDS = 2.0


class Intake:
    def __init__(self, store: InboundStore, redis: aioredis.Redis, *, platform: str) -> None:
        self._store = store
        self._redis = redis
        self._platform = platform
        self._remembering: set[asyncio.Task[None]] = set()

    async def accept(
        self,
        event_key: str,
        *,
        conversation_key: str,
        payload: dict[str, Any],
        sent_at: datetime | None = None,
        retry: bool = True,
    ) -> bool:
        """True when the event was stored and queued now; False for one stored before. Raises when
        PostgreSQL cannot store it in STORE_BUDGET_SECONDS (TimeoutError): the caller answers with an error
        so the platform retries. One stored as the time ran out is refused as a duplicate on that retry.
        `retry=False`: the platform says this is its first delivery, so Redis cannot know it yet."""
        seen = f"seen:{self._platform}:{event_key}"
        if retry and await self._redis_says_seen(seen):
            metrics().dedup_hits.labels(self._platform).inc()
            return False
        async with asyncio.timeout(STORE_BUDGET_SECONDS):
            stored = await self._store.accept(
                self._platform,
                event_key,
                conversation_key=conversation_key,
                payload=clean_payload(payload),
                sent_at=sent_at,
                traceparent=traceparent(),
            )
        if retry:  # after the ack (the platform need not wait for it), so its next retry stops at Redis
            task = asyncio.create_task(self._remember(seen))
            self._remembering.add(task)
            task.add_done_callback(self._remembering.discard)
        if stored is None:
            metrics().dedup_hits.labels(self._platform).inc()
        return stored is not None

    async def _redis_says_seen(self, key: str) -> bool:
        try:
            return bool(await asyncio.wait_for(self._redis.exists(key), REDIS_BUDGET_SECONDS))
        except (aioredis.RedisError, OSError, TimeoutError) as exc:
            log.warning("Redis unavailable for de-duplication (%s); PostgreSQL decides", _describe(exc))
            return False

    async def _remember(self, key: str) -> None:
        try:
            await asyncio.wait_for(self._redis.set(key, 1, ex=REMEMBER_SECONDS), REDIS_BUDGET_SECONDS)
        except (aioredis.RedisError, OSError, TimeoutError) as exc:
            log.debug("could not remember %s in Redis: %s", key, _describe(exc))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {REDIS_BUDGET_SECONDS:g} s"
    return str(exc) or type(exc).__name__
