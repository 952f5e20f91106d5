"""Has this platform event been handled already? Redis first (cheap, may be lost), PostgreSQL if Redis fails."""

from __future__ import annotations

import logging

import redis.asyncio as aioredis

from bot.channels import ChannelStore

log = logging.getLogger(__name__)

REMEMBER_SECONDS = 24 * 3600  # Slack retries for minutes, Bot Framework for less; a day is plenty


class EventDeduper:
    def __init__(self, redis: aioredis.Redis, channels: ChannelStore, *, platform: str) -> None:
        self._redis = redis
        self._channels = channels
        self._platform = platform

    async def first_time(self, event_key: str) -> bool:
        try:
            return bool(await self._redis.set(f"seen:{self._platform}:{event_key}", 1, nx=True, ex=REMEMBER_SECONDS))
        except (aioredis.RedisError, OSError, TimeoutError) as exc:
            log.warning("Redis unavailable for de-duplication (%s); using PostgreSQL", exc)
            return await self._channels.first_time(self._platform, f"event:{event_key}")
