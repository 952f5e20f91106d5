"""`supportbot run` answers in a `supportbot worker` child at a lower CPU priority (so acks never wait for
turns). The child is part of the run: one that dies is started again, and one whose parent was killed with
-9 stops by itself instead of answering on unsupervised."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable

import aiohttp
import pytest

from tests.fakes.slack_api import FakeSlack
from tests.reliability.conftest import Fleet, fresh
from tests.reliability.ledger import apology_handoffs, waiting
from tests.reliability.servers import BotProcess, EmbeddedPostgres, RedisServer, alive, nice, the_worker
from tests.reliability.slack import SlackClient, new_threads, posts, settled, tally

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(240)]


@pytest.fixture(autouse=True)
async def empty(tier_db: EmbeddedPostgres, redis_server: RedisServer) -> None:
    await fresh(tier_db, redis_server)


async def eventually(condition: Callable[[], bool], *, seconds: float) -> None:
    for _ in range(int(seconds / 0.2)):
        if condition():
            return
        await asyncio.sleep(0.2)


async def answered_once(bot: BotProcess, http: aiohttp.ClientSession, fake: FakeSlack, db: EmbeddedPostgres) -> None:
    since = posts(fake)
    messages = new_threads(5, seed=int(time.time()))
    client = SlackClient(http)
    await asyncio.gather(*(client.deliver(msg, lambda _: bot.events_url) for msg in messages))
    await settled(fake, messages, lambda: waiting(db), limit=90, since=since)
    tally(fake, messages, await apology_handoffs(db), since=since).assert_exactly_once()


async def test_a_dead_worker_is_replaced_and_a_killed_run_takes_its_worker_with_it(
    fleet: Fleet, fake_slack: FakeSlack, tier_db: EmbeddedPostgres, http: aiohttp.ClientSession
) -> None:
    bot = fleet.running() or await fleet.start("supervisor", http)
    assert bot.process is not None
    first = await the_worker(bot)
    parent = bot.process.pid
    await eventually(lambda: nice(first) != nice(parent), seconds=30)  # once it has read its settings
    assert nice(first) - nice(bot.process.pid) == 10, "the worker should run at WORKER_NICE lower priority"

    os.kill(first, signal.SIGKILL)
    second = await the_worker(bot, other_than=first)
    await answered_once(bot, http, fake_slack, tier_db)  # by the new worker: the web process answers nothing
    assert "exited with -9; starting another" in bot.log_tail()
    # the worker's database work runs lower too (the server runs on this machine): the web process's stays as it was
    backends = await tier_db.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    priorities = sorted(nice(int(str(pid))) for (pid,) in backends if alive(int(str(pid))))
    assert 10 in priorities and 0 in priorities, priorities

    bot.sigkill()
    assert await bot.exited(timeout=10) is not None
    # it notices within a second, then stops gracefully (nothing is running)
    await eventually(lambda: not alive(second), seconds=15)
    assert not alive(second), f"worker {second} still answers for a `supportbot run` killed with -9"
