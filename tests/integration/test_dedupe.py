"""Event de-duplication survives a Redis outage by falling back to PostgreSQL."""

from __future__ import annotations

import secrets

import pytest
import redis.asyncio as aioredis

from bot.channels import ChannelStore
from bot.dedupe import EventDeduper
from bot.services import Services
from bot.settings import Settings
from bot.storage import open_redis

pytestmark = pytest.mark.integration


async def test_redis_answers_once_per_event(services: Services, settings: Settings) -> None:
    async with open_redis(settings) as redis:
        deduper = EventDeduper(redis, ChannelStore(services.pool), platform="slack")
        event = f"Ev{secrets.token_hex(4)}"
        assert [await deduper.first_time(event) for _ in range(3)] == [True, False, False]


async def test_with_redis_down_postgres_still_answers_once(services: Services) -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)  # nothing listens on port 1
    try:
        deduper = EventDeduper(dead, ChannelStore(services.pool), platform="slack")
        event = f"Ev{secrets.token_hex(4)}"
        assert [await deduper.first_time(event) for _ in range(3)] == [True, False, False]
        other_platform = EventDeduper(dead, ChannelStore(services.pool), platform="teams")
        assert await other_platform.first_time(event) is True  # keys are per platform
    finally:
        await dead.aclose()
