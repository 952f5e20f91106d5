"""The web platform's channels: a turn's item is posted once however often it is delivered, a reply to
another platform's conversation goes to that platform through the outbox, and old posts are forgotten."""

from __future__ import annotations

import pytest

from bot.services import Services
from bot.web.front import web_frontend
from handlers.models import Reply, StaffNote
from handlers.turns import ItemKey, PlatformTurn
from scheduler.outbox import Outbox

pytestmark = pytest.mark.integration


async def test_items_are_posted_once_and_other_platforms_replies_go_through_the_outbox(services: Services) -> None:
    async with services.pool.connection() as conn:
        await conn.execute("TRUNCATE web_posts, outbox_deliveries, outbox")
    front = web_frontend(services.pool)
    items = [Reply("web:globex:cus_1011:t1", "Hello", "dec_1"), StaffNote("web:globex:cus_1011:t1", "For staff")]

    async def deliver_twice(platform_turn: PlatformTurn) -> None:
        for index, item in enumerate(items):
            for _ in range(2):  # a re-run after a crash delivers again
                if not await platform_turn.sent_before(item, ItemKey(7, index)):
                    await platform_turn.deliver(item, ItemKey(7, index))

    await front.open_turn({"key": "web:globex:cus_1011:t1"}, deliver_twice)
    posted = await front.posts.recent(["web:globex:cus_1011:t1", "staff"])
    assert [(p.channel, p.kind) for p in posted] == [("web:globex:cus_1011:t1", "reply"), ("staff", "note")]

    await front.deliver(Reply("slack:C0GLOBEX:1700000000.000100", "Good news: refunded.", "dec_2"))
    [notice] = await Outbox(services.pool).undelivered("slack")
    assert (notice["kind"], notice["text"], notice["payload"]["platform"]) == ("reply", "Good news: refunded.", "slack")
    assert await Outbox(services.pool).undelivered("web") == []


async def test_posts_past_the_retention_are_forgotten(services: Services) -> None:
    front = web_frontend(services.pool)
    await front.posts.add("staff", "note", {"kind": "staff_note", "item": {"conversation_key": None, "text": "new"}})
    await front.posts.add("staff", "note", {"kind": "staff_note", "item": {"conversation_key": None, "text": "old"}})
    async with services.pool.connection() as conn:
        await conn.execute(
            "UPDATE web_posts SET created_at = now() - interval '31 days' WHERE body->'item'->>'text' = 'old'"
        )
    assert await front.posts.forget(older_than_days=30) == 1
    texts = [post.body["item"]["text"] for post in await front.posts.recent(["staff"])]
    assert "old" not in texts and "new" in texts
