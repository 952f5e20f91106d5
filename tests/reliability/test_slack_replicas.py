"""Two `supportbot run` replicas on one PostgreSQL and one real `redis-server`, events split between them at
random and every Slack retry sent to the other one: no event is lost or answered twice, and each thread's
answers come in the order its questions were asked, also when Redis is killed and comes back empty."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.fakes.slack_api import FakeSlack
from tests.reliability.conftest import Fleet, fresh
from tests.reliability.ledger import apology_handoffs, customer_turns_out_of_order, thread_story, waiting
from tests.reliability.servers import BotProcess, EmbeddedPostgres, RedisServer
from tests.reliability.slack import QUESTIONS, Message, SlackClient, message, new_threads, posts, settled, tally

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(360)]

THREADS = 30
QUESTIONS_PER_THREAD = 3  # a question and two follow-ups, 5 ms apart
FOLLOW_UP_GAP = 0.005
THREAD_EVERY = 0.05  # seconds between the starts of two threads
# Two follow-ups 5 ms apart at two replicas can be stored in either order (and a job whose id is lower can
# commit later): the next turn of a conversation is its earliest unfinished message by Slack's `ts`.


@pytest.fixture(scope="module")
async def replicas(fleet: Fleet, http: aiohttp.ClientSession) -> AsyncIterator[tuple[BotProcess, BotProcess]]:
    one, two = await asyncio.gather(fleet.start("replica-1", http), fleet.start("replica-2", http))
    yield one, two


@pytest.fixture(autouse=True)
async def empty(tier_db: EmbeddedPostgres, redis_server: RedisServer) -> None:
    await fresh(tier_db, redis_server)


def conversations(seed: int) -> list[list[Message]]:
    """THREADS threads of distinct questions; follow-ups reply in the first message's thread."""
    rng = random.Random(seed)
    threads = []
    for number in range(THREADS):
        asked = rng.sample(QUESTIONS, QUESTIONS_PER_THREAD)
        first = message(f"{asked[0]} (thread {number}, question 1)")
        threads.append(
            [first]
            + [
                message(f"{text} (thread {number}, question {index})", thread_ts=first.ts)
                for index, text in enumerate(asked[1:], start=2)
            ]
        )
    return threads


async def test_two_replicas_answer_each_event_once_and_in_order(
    replicas: tuple[BotProcess, BotProcess],
    fake_slack: FakeSlack,
    tier_db: EmbeddedPostgres,
    http: aiohttp.ClientSession,
) -> None:
    since = posts(fake_slack)
    rng = random.Random(12)
    client = SlackClient(http)
    threads = conversations(seed=12)
    urls = [bot.events_url for bot in replicas]
    sent_to: dict[str, int] = {}

    async def send(msg: Message) -> None:
        """To a random replica; Slack's retry of it (same body, X-Slack-Retry-Num: 1) to the other one."""
        chosen = sent_to[msg.ts] = rng.randrange(2)
        first = asyncio.create_task(client.deliver(msg, lambda attempt: urls[(chosen + attempt) % 2]))
        await asyncio.sleep(rng.uniform(0, 0.03))
        await client.send(urls[1 - chosen], msg, retry=1)
        await first

    async def converse(number: int, thread: list[Message]) -> None:
        await asyncio.sleep(number * THREAD_EVERY)
        tasks = []
        for msg in thread:
            tasks.append(asyncio.create_task(send(msg)))
            await asyncio.sleep(FOLLOW_UP_GAP)
        await asyncio.gather(*tasks)

    await asyncio.gather(*(converse(number, thread) for number, thread in enumerate(threads)))
    messages = [msg for thread in threads for msg in thread]
    await settled(fake_slack, messages, lambda: waiting(tier_db), limit=240, since=since)
    result = tally(fake_slack, messages, await apology_handoffs(tier_db), since=since)
    stored_out_of_order = await customer_turns_out_of_order(tier_db, messages)
    split = sum(sent_to.values())

    print(
        f"\ntwo replicas: {len(messages)} events in {THREADS} threads ({len(messages) - split} first sent to replica "
        f"1, {split} to replica 2, each retried on the other; {dict(client.statuses())}): {result.line()}; "
        f"customer turns stored out of order in {len(stored_out_of_order)} thread(s)"
    )
    for thread in result.out_of_order[:5]:
        print(f"  out of order: thread {thread}: {await thread_story(tier_db, thread)}")
    result.assert_exactly_once()
    assert not result.out_of_order, f"answers out of order in {len(result.out_of_order)} thread(s)"
    assert not stored_out_of_order, f"customer turns stored out of order in {stored_out_of_order}"


async def test_redis_killed_and_restarted_empty_while_retries_are_in_flight_doubles_nothing(
    replicas: tuple[BotProcess, BotProcess],
    fake_slack: FakeSlack,
    tier_db: EmbeddedPostgres,
    redis_server: RedisServer,
    http: aiohttp.ClientSession,
) -> None:
    since = posts(fake_slack)
    rng = random.Random(34)
    phases = {phase: SlackClient(http) for phase in ("before", "outage", "after")}
    urls = [bot.events_url for bot in replicas]
    before, during = new_threads(40, seed=34), new_threads(10, seed=35)

    # acknowledged before the outage, and retried once: Redis remembers them as seen (a first delivery goes
    # straight to PostgreSQL; only retries ask and tell Redis)
    await asyncio.gather(*(phases["before"].deliver(msg, lambda _: urls[rng.randrange(2)]) for msg in before))
    await asyncio.gather(*(phases["before"].send(urls[rng.randrange(2)], msg, retry=1) for msg in before))
    await asyncio.sleep(0.5)  # the mark is written just after the ack
    remembered = await redis_server.keys()

    # Redis dies; retries of those and brand-new events arrive at both replicas meanwhile
    await redis_server.sigkill()
    outage = phases["outage"]
    await asyncio.gather(
        *(outage.send(urls[rng.randrange(2)], msg, retry=2) for msg in before[:20]),
        *(outage.deliver(msg, lambda _: urls[rng.randrange(2)]) for msg in during),
    )

    # back, empty: every event is retried once more after the restart, half of them twice at once
    await redis_server.start()
    # what the restarted Redis holds of the events nobody sent during the outage (an ack path's write that was
    # under way as Redis came back may land, for an event retried meanwhile: that one is true)
    kept_after_restart = {msg.seen_key for msg in before[20:]} & await redis_server.key_names()
    after = phases["after"]
    await asyncio.gather(
        *(after.send(urls[rng.randrange(2)], msg, retry=3) for msg in before + during),
        *(after.send(urls[rng.randrange(2)], msg, retry=4) for msg in before[20:]),
    )
    remembered_again = await redis_server.keys()

    messages = before + during
    await settled(fake_slack, messages, lambda: waiting(tier_db), limit=240, since=since)
    result = tally(fake_slack, messages, await apology_handoffs(tier_db), since=since)
    statuses = {phase: dict(client.statuses()) for phase, client in phases.items()}
    print(
        f"\nRedis restart: {len(messages)} events; answers to the requests {statuses} (None: none within 3 s); "
        f"Redis held {remembered} keys before the kill, {len(kept_after_restart)} of the untouched events' after "
        "the restart, "
        f"{remembered_again} after the retries: {result.line()}"
    )
    assert remembered >= len(before) and not kept_after_restart
    refused = {phase: codes for phase, codes in statuses.items() if set(codes) - {200, None}}
    assert not refused, f"events refused while Redis was down or empty (PostgreSQL alone should decide): {refused}"
    result.assert_exactly_once()
