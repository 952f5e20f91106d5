"""Wrong sign-in tokens are counted per address in Redis: after `LIMIT` in `WINDOW_SECONDS` that address may not
try again until the window ends, so a console reachable from other machines cannot be guessed at speed.
Redis only holds what may be lost: when it is down, sign-in is not throttled (and says so in the log)."""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

LIMIT = 10
WINDOW_SECONDS = 900
REDIS_BUDGET_SECONDS = 0.2


class SignInThrottle:
    def __init__(self, redis: aioredis.Redis, *, limit: int = LIMIT, window: int = WINDOW_SECONDS) -> None:
        self._redis = redis
        self.limit = limit
        self.window = window

    @staticmethod
    def _key(address: str | None) -> str:
        return f"console:signin-failures:{address or 'unknown'}"

    async def blocked(self, address: str | None) -> bool:
        try:
            found = await asyncio.wait_for(self._redis.get(self._key(address)), REDIS_BUDGET_SECONDS)
        except (aioredis.RedisError, OSError, TimeoutError) as exc:
            log.warning("Redis unavailable: sign-in is not throttled (%s)", exc or type(exc).__name__)
            return False
        return found is not None and int(found) >= self.limit

    async def failed(self, address: str | None) -> None:
        key = self._key(address)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(key, 0, ex=self.window, nx=True)  # the window starts at the first failure (Redis 6 too)
                pipe.incr(key)  # keeps the key's expiry
                await asyncio.wait_for(pipe.execute(), REDIS_BUDGET_SECONDS)
        except (aioredis.RedisError, OSError, TimeoutError) as exc:
            log.warning("Redis unavailable: a wrong sign-in was not counted (%s)", exc or type(exc).__name__)
