"""A `supportbot run` with a backlog of acknowledged Teams message activities dies with its worker child
(SIGKILL, while turns run) or is stopped (SIGTERM); a new one starts: every acknowledged activity gets
exactly one reply in its conversation. Authentication is on both ways: signed activities in, tokens from
a login service out."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.fakes.bot_connector import FakeBotConnector
from tests.reliability.conftest import Fleet, fresh
from tests.reliability.ledger import apology_handoffs, backlog, event_states, running_turns, stuck_jobs, waiting
from tests.reliability.servers import BotProcess, EmbeddedPostgres, RedisServer
from tests.reliability.teams import Activity, TeamsClient, new_conversations, paced, posts, settled, tally

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(360)]

BACKLOG = 200  # activities, each a new chat
RATE = 100  # per second
STOP_AFTER = 2.5  # seconds after the first activity (sending takes 2 s): most turns are still queued
GRACE = 10.0  # SHUTDOWN_GRACE in the bots' environment


@pytest.fixture(autouse=True)
async def empty(tier_db: EmbeddedPostgres, redis_server: RedisServer) -> None:
    await fresh(tier_db, redis_server)


def messages_url(bot: BotProcess) -> str:
    return f"{bot.url}/api/messages"


async def burst(
    bot: BotProcess, http: aiohttp.ClientSession, connector: FakeBotConnector, seed: int
) -> tuple[list[Activity], TeamsClient]:
    """BACKLOG activities at RATE/s, each a new chat, every one acknowledged; then wait until STOP_AFTER."""
    client = TeamsClient(http, connector.url)
    activities = new_conversations(BACKLOG, seed=seed, service_url=connector.url)
    started = time.monotonic()
    tasks = await paced(activities, RATE, lambda activity: client.deliver(activity, lambda _: messages_url(bot)))
    await asyncio.gather(*tasks)
    assert all(client.acked(activity) for activity in activities)
    await asyncio.sleep(max(0.0, started + STOP_AFTER - time.monotonic()))
    return activities, client


async def test_sigkill_with_a_backlog_then_restart_answers_every_activity_once(
    teams_fleet: Fleet, connector: FakeBotConnector, tier_db: EmbeddedPostgres, http: aiohttp.ClientSession
) -> None:
    since, refused = posts(connector), connector.unauthorized
    first = teams_fleet.running() or await teams_fleet.start("killed", http)
    activities, client = await burst(first, http, connector, seed=1)
    before = await running_turns(tier_db)
    first.sigkill_all()
    assert await first.exited(timeout=30) is not None
    replies_at_kill = posts(connector) - since

    await teams_fleet.start("restarted", http)
    await settled(connector, activities, lambda: waiting(tier_db), limit=240, since=since)
    result = tally(connector, activities, await apology_handoffs(tier_db), since=since)

    print(
        f"\nTeams SIGKILL: {len(activities)} acknowledged ({dict(client.statuses())}); at the kill {before.line()}, "
        f"{replies_at_kill} activities posted; after the restart: {result.line()}; login service "
        f"{dict(connector.login_requests)}, {connector.unauthorized - refused} unauthorised call(s) to the connector"
    )
    assert before.waiting >= BACKLOG // 4, f"the kill came too late to test anything: {before.line()}"
    assert before.running, "no turn was running at the kill: the rescue of a dead worker's turns was not tested"
    result.assert_exactly_once()
    assert await waiting(tier_db) == 0
    assert connector.unauthorized == refused, "the bot called the connector without a token"


async def test_sigterm_finishes_running_turns_and_the_next_process_answers_the_rest(
    teams_fleet: Fleet, connector: FakeBotConnector, tier_db: EmbeddedPostgres, http: aiohttp.ClientSession
) -> None:
    since, refused = posts(connector), connector.unauthorized
    first = teams_fleet.running() or await teams_fleet.start("terminated", http)
    activities, client = await burst(first, http, connector, seed=2)
    before = await running_turns(tier_db)
    first.sigterm()
    signalled = time.monotonic()
    code = await first.exited(timeout=GRACE + 20)
    took = time.monotonic() - signalled
    assert code == 0, (
        f"exit code {code} after SIGTERM (None: still running {GRACE + 20:.0f} s later)\n{first.log_tail()}"
    )

    after = await backlog(tier_db)
    unfinished = [event for event, state in (await event_states(tier_db, before.running)).items() if state != "done"]
    left_running = await stuck_jobs(tier_db)
    at_exit = tally(connector, activities, await apology_handoffs(tier_db), since=since)

    await teams_fleet.start("after-sigterm", http)
    await settled(connector, activities, lambda: waiting(tier_db), limit=240, since=since)
    result = tally(connector, activities, await apology_handoffs(tier_db), since=since)

    print(
        f"\nTeams SIGTERM: {len(activities)} acknowledged ({dict(client.statuses())}); at the signal "
        f"{before.line()}; exit code {code} after {took:.1f} s (grace {GRACE:.0f} s), {after.waiting} left queued, "
        f"{left_running} job(s) left marked running, {len(unfinished)} of the running turns unfinished, by then "
        f"{at_exit.answered_once} answered once and {len(at_exit.doubled)} doubled; after the restart: "
        f"{result.line()}; {connector.unauthorized - refused} unauthorised call(s) to the connector"
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
    assert connector.unauthorized == refused, "the bot called the connector without a token"
