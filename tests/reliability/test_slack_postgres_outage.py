"""PostgreSQL stops for 10 s while acknowledged events wait in its queue, and comes back: nothing is lost;
what waited is answered after it returns; what arrived meanwhile was not acknowledged (a 503, or no
answer in Slack's 3 s) until it could be stored, and Slack's re-sends of it are answered once.

This module has a PostgreSQL server of its own: stopping the tier's would disturb the other modules."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.cli.run import STOP_MARGIN
from bot.services import Services
from tests.fakes.slack_api import FakeSlack
from tests.reliability.conftest import Fleet, fresh, open_fleet, prepare
from tests.reliability.ledger import apology_handoffs, backlog, waiting
from tests.reliability.servers import EmbeddedPostgres, RedisServer, alive, the_worker
from tests.reliability.slack import SlackClient, new_threads, paced, posts, settled, tally

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(360)]

QUEUED = 120  # acknowledged just before the outage
DURING = 20  # first sent while PostgreSQL is down
OUTAGE = 10.0  # seconds
GRACE = 10.0  # SHUTDOWN_GRACE in the bots' environment


@pytest.fixture(scope="module")
async def outage_db(reliability_folder: Path, services: Services) -> AsyncIterator[EmbeddedPostgres]:
    db = EmbeddedPostgres(reliability_folder / "outage")
    (reliability_folder / "outage").mkdir()
    try:
        db.open()
        await prepare(db.url, reliability_folder / "outage-home", services.embedder)
        yield db
    finally:
        db.close()


@pytest.fixture(scope="module")
async def outage_fleet(
    outage_db: EmbeddedPostgres, redis_server: RedisServer, fake_slack: FakeSlack, reliability_folder: Path
) -> AsyncIterator[Fleet]:
    async with open_fleet(outage_db, redis_server, fake_slack, reliability_folder / "outage-bots") as opened:
        yield opened


async def test_postgres_stopped_for_10_s_loses_nothing(
    outage_fleet: Fleet,
    outage_db: EmbeddedPostgres,
    redis_server: RedisServer,
    fake_slack: FakeSlack,
    http: aiohttp.ClientSession,
) -> None:
    await fresh(outage_db, redis_server)
    since = posts(fake_slack)
    bot = await outage_fleet.start("outage", http)
    client = SlackClient(http)
    queued, during = new_threads(QUEUED, seed=56), new_threads(DURING, seed=57)

    await asyncio.gather(*await paced(queued, 120, lambda msg: client.deliver(msg, lambda _: bot.events_url)))
    before = await backlog(outage_db)
    await outage_db.stop()
    down = time.monotonic()
    # while it is down, new events arrive, and are sent again every second until acknowledged, as Slack would
    deliveries = await paced(
        during, DURING / (OUTAGE / 2), lambda msg: client.deliver(msg, lambda _: bot.events_url, pause=1.0, limit=180)
    )
    await asyncio.sleep(max(0.0, down + OUTAGE - time.monotonic()))
    up = time.monotonic()
    await outage_db.start()
    await asyncio.gather(*deliveries)

    messages = queued + during
    await settled(fake_slack, messages, lambda: waiting(outage_db), limit=240, since=since)
    result = tally(fake_slack, messages, await apology_handoffs(outage_db), since=since)
    while_down: Counter[int | None] = Counter(
        attempt.status
        for msg in during
        for attempt in client.attempts[msg.ts]
        if down <= attempt.sent_at and attempt.answered_at <= up
    )
    print(
        f"\nPostgreSQL stopped for {up - down:.1f} s: at the stop {before.line()}; answers to requests sent and "
        f"answered while it was down {dict(while_down)} (None: no answer within 3 s); {len(messages)} events, "
        f"all requests {dict(client.statuses())}: {result.line()}"
    )
    assert before.waiting >= QUEUED // 4, f"the outage began too late to test anything: {before.line()}"
    assert while_down[200] == 0, "an event was acknowledged while PostgreSQL could not store it"
    result.assert_exactly_once()
    assert await waiting(outage_db) == 0


async def test_a_deploy_during_a_postgres_outage_still_stops_every_process(
    outage_fleet: Fleet, outage_db: EmbeddedPostgres, http: aiohttp.ClientSession
) -> None:
    """SIGTERM while PostgreSQL is down: procrastinate's shutdown clean-up cannot reach it and once waited
    forever (an orphaned worker was found still waiting minutes later). The web process and its worker
    child exit within SHUTDOWN_GRACE plus a margin; whatever they held runs again after TURN_LEASE."""
    bot = outage_fleet.running() or await outage_fleet.start("outage-deploy", http)
    assert bot.process is not None
    worker = await the_worker(bot)
    await outage_db.stop()
    try:
        await asyncio.sleep(2.0)  # let its pools notice
        bot.sigterm()
        signalled = time.monotonic()
        code = await bot.exited(timeout=GRACE + STOP_MARGIN + 20)
        took = time.monotonic() - signalled
        for _ in range(50):
            if not alive(worker):
                break
            await asyncio.sleep(0.2)
        print(f"\nSIGTERM with PostgreSQL down: exit code {code} after {took:.1f} s; worker alive: {alive(worker)}")
        assert code is not None, f"`supportbot run` still running {took:.0f} s after SIGTERM\n{bot.log_tail()}"
        assert not alive(worker), f"its worker {worker} is still running after SIGTERM\n{bot.log_tail()}"
    finally:
        await outage_db.start()
