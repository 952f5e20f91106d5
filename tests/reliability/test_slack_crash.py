"""A `supportbot run` with a backlog of acknowledged Slack events dies (SIGKILL) or is stopped (SIGTERM, what
every deploy sends); a new one starts: every acknowledged event gets exactly one reply in its thread."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.fakes.slack_api import FakeSlack
from tests.reliability.conftest import Fleet, fresh
from tests.reliability.ledger import apology_handoffs, backlog, event_states, running_turns, stuck_jobs, waiting
from tests.reliability.servers import BotProcess, EmbeddedPostgres, RedisServer
from tests.reliability.slack import Message, SlackClient, new_threads, paced, posts, settled, tally

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(360)]

BACKLOG = 200  # events, each a new thread
RATE = 100  # per second
STOP_AFTER = 2.5  # seconds after the first event (sending takes 2 s): most turns are still queued
GRACE = 10.0  # SHUTDOWN_GRACE in the bots' environment


@pytest.fixture(autouse=True)
async def empty(tier_db: EmbeddedPostgres, redis_server: RedisServer) -> None:
    await fresh(tier_db, redis_server)


async def burst(bot: BotProcess, http: aiohttp.ClientSession, seed: int) -> tuple[list[Message], SlackClient]:
    """BACKLOG events at RATE/s, each a new thread, every one acknowledged; then wait until STOP_AFTER."""
    client = SlackClient(http)
    messages = new_threads(BACKLOG, seed=seed)
    started = time.monotonic()
    tasks = await paced(messages, RATE, lambda msg: client.deliver(msg, lambda _: bot.events_url))
    await asyncio.gather(*tasks)
    assert all(client.acked(msg) for msg in messages)
    await asyncio.sleep(max(0.0, started + STOP_AFTER - time.monotonic()))
    return messages, client


async def test_sigkill_with_a_backlog_then_restart_answers_every_event_once(
    fleet: Fleet, fake_slack: FakeSlack, tier_db: EmbeddedPostgres, http: aiohttp.ClientSession
) -> None:
    since = posts(fake_slack)
    first = fleet.running() or await fleet.start("killed", http)
    messages, client = await burst(first, http, seed=1)
    before = await running_turns(tier_db)
    first.sigkill_all()  # with its worker child: a lost machine, turns die mid-way
    assert await first.exited(timeout=30) is not None
    replies_at_kill = posts(fake_slack) - since

    await fleet.start("restarted", http)
    await settled(fake_slack, messages, lambda: waiting(tier_db), limit=240, since=since)
    result = tally(fake_slack, messages, await apology_handoffs(tier_db), since=since)

    print(
        f"\nSIGKILL: {len(messages)} acknowledged ({dict(client.statuses())}); at the kill {before.line()}, "
        f"{replies_at_kill} posts made; after the restart: {result.line()}"
    )
    assert before.waiting >= BACKLOG // 4, f"the kill came too late to test anything: {before.line()}"
    assert before.running, "no turn was running at the kill: the rescue of a dead worker's turns was not tested"
    result.assert_exactly_once()
    assert await waiting(tier_db) == 0


async def test_sigterm_finishes_running_turns_and_the_next_process_answers_the_rest(
    fleet: Fleet, fake_slack: FakeSlack, tier_db: EmbeddedPostgres, http: aiohttp.ClientSession
) -> None:
    since = posts(fake_slack)
    first = fleet.running() or await fleet.start("terminated", http)
    messages, client = await burst(first, http, seed=2)
    before = await running_turns(tier_db)
    first.sigterm()
    signalled = time.monotonic()
    code = await first.exited(timeout=GRACE + 20)
    took = time.monotonic() - signalled
    assert code == 0, (
        f"exit code {code} after SIGTERM (None: still running {GRACE + 20:.0f} s later)\n{first.log_tail()}"
    )

    # what the stopped process was running is finished, and nothing is left marked running for a lease to expire
    after = await backlog(tier_db)
    unfinished = [event for event, state in (await event_states(tier_db, before.running)).items() if state != "done"]
    left_running = await stuck_jobs(tier_db)
    at_exit = tally(fake_slack, messages, await apology_handoffs(tier_db), since=since)

    await fleet.start("after-sigterm", http)
    await settled(fake_slack, messages, lambda: waiting(tier_db), limit=240, since=since)
    result = tally(fake_slack, messages, await apology_handoffs(tier_db), since=since)

    print(
        f"\nSIGTERM: {len(messages)} acknowledged ({dict(client.statuses())}); at the signal {before.line()}; "
        f"exit code {code} after {took:.1f} s (grace {GRACE:.0f} s), {after.waiting} left queued, {left_running} "
        f"job(s) left marked running, {len(unfinished)} of the running turns unfinished, by then "
        f"{at_exit.answered_once} answered once and {len(at_exit.doubled)} doubled; after the restart: {result.line()}"
    )
    assert before.waiting >= BACKLOG // 4, f"the signal came too late to test anything: {before.line()}"
    assert before.running, "no turn was running at the signal: the grace period was not tested"
    assert not unfinished, f"turns running at SIGTERM were not finished: {unfinished}"
    assert left_running == 0
    assert after.waiting > 0, "the stopped process answered everything: the rest-stays-queued path was not tested"
    assert not at_exit.doubled
    result.assert_exactly_once()
    assert result.apologies == 0, "a graceful stop interrupted a turn"
    assert await waiting(tier_db) == 0
