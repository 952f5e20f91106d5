"""`/healthz` through the real aiohttp app: it answers in time, and says "down" only when customers are not served."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from bot.server import HEALTH_TIMEOUT, build_app
from bot.services import Services
from bot.storage import open_pool, open_redis

pytestmark = pytest.mark.integration

NOTHING_WAITS = {"waiting": 0, "oldest_waiting_seconds": 0.0, "failing": 0, "last_error": None}
# Time for the answer beyond the checks' own time-out; without the time-out a frozen database keeps it for 7 s or more.
LEEWAY = 3.0


@pytest.fixture
async def idle(services: Services) -> AsyncIterator[Services]:
    """The session's services over an empty turn queue."""
    async with services.pool.connection() as conn:
        await conn.execute("TRUNCATE inbound_events CASCADE")
    yield services
    async with services.pool.connection() as conn:
        await conn.execute("TRUNCATE inbound_events CASCADE")


@pytest.fixture
async def redis(idle: Services) -> AsyncIterator[aioredis.Redis]:
    async with open_redis(idle.settings) as client:
        yield client


async def health(services: Services, redis: aioredis.Redis) -> tuple[int, dict[str, Any]]:
    async with TestClient(TestServer(build_app(services, redis))) as client:
        response = await client.get("/healthz", timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT + LEEWAY))
        return response.status, await response.json()


async def add_turn(
    services: Services,
    key: str,
    *,
    age: float = 0.0,
    state: str = "queued",
    attempts: int = 0,
    last_error: str | None = None,
) -> None:
    """An inbound event received `age` seconds ago, as the Slack and Teams front ends store it (on a job
    queue no worker serves, so nothing runs it meanwhile)."""
    async with services.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO inbound_events "
            "(platform, event_key, conversation_key, payload, queue, state, attempts, last_error, received_at) "
            "VALUES ('slack', %s, %s, '{}', 'health-test', %s, %s, %s, clock_timestamp() - make_interval(secs => %s))",
            (key, f"C1:{key}", state, attempts, last_error, age),
        )


async def test_all_well_is_ok(idle: Services, redis: aioredis.Redis) -> None:
    status, body = await health(idle, redis)
    assert status == 200
    assert body == {
        "ok": True,
        "status": "ok",
        "checks": {"postgres": "ok", "redis": "ok", "queue": NOTHING_WAITS},
        "problems": [],
    }


async def test_redis_down_is_degraded_not_down(idle: Services) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the socket is closed
    dead = aioredis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    try:
        status, body = await health(idle, dead)
    finally:
        await dead.aclose()
    assert status == 200
    assert body["ok"] is True and body["status"] == "degraded"
    assert body["checks"]["postgres"] == "ok" and body["checks"]["queue"] == NOTHING_WAITS
    assert body["checks"]["redis"].startswith("degraded: ")
    assert body["checks"]["redis"].endswith(" (de-duplication falls back to PostgreSQL)")
    assert [problem.split(":")[0] for problem in body["problems"]] == ["Redis"]


async def test_a_frozen_postgres_is_down_within_the_time_out(idle: Services, redis: aioredis.Redis) -> None:
    """A PostgreSQL backend that stops answering (stopped with SIGSTOP) is reported as down, in time."""
    if idle.settings.database_url is not None:
        pytest.skip("freezes a backend process of the embedded server; DATABASE_URL points elsewhere")
    single = idle.settings.model_copy(update={"db_pool_max": 1})
    async with open_pool(single) as pool:
        async with pool.connection() as conn:
            row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
        assert row is not None
        backend = int(row[0])
        os.kill(backend, signal.SIGSTOP)
        try:
            status, body = await health(dataclasses.replace(idle, pool=pool), redis)
        finally:
            os.kill(backend, signal.SIGCONT)
        # the abandoned check gives its connection back once the backend runs again
        async with pool.connection(timeout=15) as conn:
            await conn.execute("SELECT 1")
    assert status == 503
    assert body["ok"] is False and body["status"] == "down"
    assert body["checks"] == {
        "postgres": f"error: timed out after {HEALTH_TIMEOUT:g} s",
        "redis": "ok",
        "queue": "unknown: PostgreSQL did not answer",
    }
    assert body["problems"] == [f"PostgreSQL: timed out after {HEALTH_TIMEOUT:g} s"]


async def test_a_locked_queue_degrades_within_the_time_out(idle: Services, redis: aioredis.Redis) -> None:
    """PostgreSQL answers but the queue cannot be read in time (a long migration holds its table)."""
    async with idle.pool.connection() as locker:
        await locker.execute("LOCK TABLE inbound_events IN ACCESS EXCLUSIVE MODE")
        status, body = await health(idle, redis)
        await locker.rollback()
    assert status == 200 and body["status"] == "degraded"
    assert body["checks"]["postgres"] == "ok"
    assert body["checks"]["queue"] == f"error: timed out after {HEALTH_TIMEOUT:g} s"
    assert body["problems"] == [f"queue: could not be read (timed out after {HEALTH_TIMEOUT:g} s)"]


async def test_queue_depth_and_the_oldest_waiting_turn_are_reported(idle: Services, redis: aioredis.Redis) -> None:
    await add_turn(idle, "a", age=30)
    await add_turn(idle, "b", age=5, state="decided")
    await add_turn(idle, "c", age=1, attempts=1, last_error="a first try that failed")  # retried once at most
    await add_turn(idle, "d", age=600, state="done", attempts=3, last_error="long done")  # not waiting
    status, body = await health(idle, redis)
    assert status == 200 and body["status"] == "ok" and body["problems"] == []
    queue = body["checks"]["queue"]
    assert queue["waiting"] == 3 and queue["failing"] == 0 and queue["last_error"] is None
    assert 30 <= queue["oldest_waiting_seconds"] < idle.settings.health_max_queue_age


async def test_a_turn_waiting_longer_than_the_setting_degrades(idle: Services, redis: aioredis.Redis) -> None:
    await add_turn(idle, "old", age=60)
    assert (await health(idle, redis))[1]["status"] == "ok"  # HEALTH_MAX_QUEUE_AGE is 120 s by default
    strict = dataclasses.replace(idle, settings=idle.settings.model_copy(update={"health_max_queue_age": 45.0}))
    status, body = await health(strict, redis)
    assert status == 200 and body["ok"] is True and body["status"] == "degraded"
    assert body["checks"]["queue"]["oldest_waiting_seconds"] >= 60
    assert len(body["problems"]) == 1
    assert body["problems"][0].startswith("queue: the oldest of 1 waiting turns has waited 6")
    assert body["problems"][0].endswith("(HEALTH_MAX_QUEUE_AGE is 45 s)")


async def test_turns_that_keep_failing_degrade(idle: Services, redis: aioredis.Redis) -> None:
    await add_turn(idle, "older", age=20, attempts=2, last_error="hand-off failed: connection refused")
    await add_turn(
        idle, "newer", age=10, attempts=4, last_error="Slack said ratelimited\nTraceback (most recent call last):"
    )
    await add_turn(idle, "fine", age=2)
    status, body = await health(idle, redis)
    assert status == 200 and body["status"] == "degraded"
    assert body["checks"]["queue"] == {
        "waiting": 3,
        "oldest_waiting_seconds": pytest.approx(20, abs=5),
        "failing": 2,
        "last_error": "Slack said ratelimited",
    }
    assert body["problems"] == ["queue: 2 waiting turns failed more than once (last error: Slack said ratelimited)"]
