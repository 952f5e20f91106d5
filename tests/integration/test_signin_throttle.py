"""Wrong console tokens are counted per address in Redis; past the limit that address waits out the window."""

from __future__ import annotations

import secrets

import pytest

from bot.settings import Settings
from bot.storage import open_redis
from bot.web.throttle import SignInThrottle

pytestmark = pytest.mark.integration


async def test_an_address_that_keeps_guessing_is_stopped_and_others_are_not(settings: Settings) -> None:
    async with open_redis(settings) as redis:
        throttle = SignInThrottle(redis, limit=3, window=60)
        guesser, other = f"192.0.2.{secrets.randbelow(250)}", "198.51.100.7"
        for _ in range(2):
            await throttle.failed(guesser)
        assert not await throttle.blocked(guesser)
        await throttle.failed(guesser)
        assert await throttle.blocked(guesser)
        assert not await throttle.blocked(other)
        assert 0 < await redis.ttl(f"console:signin-failures:{guesser}") <= 60
        await redis.delete(f"console:signin-failures:{guesser}")
