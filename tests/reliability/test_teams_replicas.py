"""Two `supportbot run` replicas on one PostgreSQL and one real `redis-server`, Teams activities split between
them at random and every retry (the same activity id) sent to the other one: no activity is lost or
answered twice, and each conversation's answers come in the order its messages were sent."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.fakes.bot_connector import FakeBotConnector
from tests.reliability.conftest import Fleet, fresh
from tests.reliability.ledger import apology_handoffs, conversation_story, customer_turns_out_of_order, waiting
from tests.reliability.servers import BotProcess, EmbeddedPostgres, RedisServer
from tests.reliability.slack import QUESTIONS
from tests.reliability.teams import Activity, TeamsClient, message, posts, replies, settled, tally

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(360)]

CONVERSATIONS = 30
MESSAGES_PER_CONVERSATION = 3  # a question and two follow-ups, 5 ms apart
FOLLOW_UP_GAP = 0.005
CONVERSATION_EVERY = 0.05  # seconds between the starts of two conversations


@pytest.fixture(scope="module")
async def replicas(teams_fleet: Fleet, http: aiohttp.ClientSession) -> AsyncIterator[tuple[BotProcess, BotProcess]]:
    one, two = await asyncio.gather(teams_fleet.start("replica-1", http), teams_fleet.start("replica-2", http))
    yield one, two


@pytest.fixture(autouse=True)
async def empty(tier_db: EmbeddedPostgres, redis_server: RedisServer) -> None:
    await fresh(tier_db, redis_server)


async def test_two_replicas_answer_each_activity_once_and_in_order(
    replicas: tuple[BotProcess, BotProcess],
    connector: FakeBotConnector,
    tier_db: EmbeddedPostgres,
    http: aiohttp.ClientSession,
) -> None:
    since, refused = posts(connector), connector.unauthorized
    rng = random.Random(21)
    client = TeamsClient(http, connector.url)
    urls = [f"{bot.url}/api/messages" for bot in replicas]
    sent_to: dict[str, int] = {}
    conversations: list[list[Activity]] = [[] for _ in range(CONVERSATIONS)]

    async def send(activity: Activity) -> None:
        """To a random replica; the channel's retry of it (the same activity) to the other one."""
        chosen = sent_to[activity.id] = rng.randrange(2)
        first = asyncio.create_task(client.deliver(activity, lambda attempt: urls[(chosen + attempt) % 2]))
        await asyncio.sleep(rng.uniform(0, 0.03))
        await client.send(urls[1 - chosen], activity)
        await first

    async def converse(number: int) -> None:
        await asyncio.sleep(number * CONVERSATION_EVERY)
        asked = rng.sample(QUESTIONS, MESSAGES_PER_CONVERSATION)
        chat: str | None = None
        tasks = []
        for index, text in enumerate(asked, start=1):
            # stamped as it is sent, as Teams stamps it: the channel's clock orders the turns
            activity = message(f"{text} (chat {number}, message {index})", service_url=connector.url, conversation=chat)
            chat = activity.conversation
            conversations[number].append(activity)
            tasks.append(asyncio.create_task(send(activity)))
            await asyncio.sleep(FOLLOW_UP_GAP)
        await asyncio.gather(*tasks)

    await asyncio.gather(*(converse(number) for number in range(CONVERSATIONS)))
    activities = [activity for conversation in conversations for activity in conversation]
    await settled(connector, activities, lambda: waiting(tier_db), limit=240, since=since)
    result = tally(connector, activities, await apology_handoffs(tier_db), since=since)
    stored_out_of_order = await customer_turns_out_of_order(tier_db, activities)
    split = sum(sent_to.values())

    print(
        f"\nTeams, two replicas: {len(activities)} activities in {CONVERSATIONS} conversations "
        f"({len(activities) - split} first sent to replica 1, {split} to replica 2, each retried on the other; "
        f"{dict(client.statuses())}): {result.line()}; customer turns stored out of order in "
        f"{len(stored_out_of_order)} conversation(s); {connector.unauthorized - refused} unauthorised call(s)"
    )
    for conversation in result.out_of_order[:5]:
        story = await conversation_story(tier_db, f"teams:{conversation}")
        replied = [sent.reply_to for sent in replies(connector, {conversation}, since=since)[conversation]]
        print(f"  out of order: {conversation}: {story}; replies to …{', …'.join(r[-6:] for r in replied if r)}")
    result.assert_exactly_once()
    assert not result.out_of_order, f"answers out of order in {len(result.out_of_order)} conversation(s)"
    assert not stored_out_of_order, f"customer turns stored out of order in {stored_out_of_order}"
    assert connector.unauthorized == refused, "the bot called the connector without a token"
