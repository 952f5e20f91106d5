"""Durable turns through the real Slack app: stored before the ack, de-duplicated in PostgreSQL, re-runs that
never repeat an effect, and hostile input that still ends in a clear answer or error."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.queue.store import InboundStore
from bot.services import Services
from bot.storage import open_redis
from handlers.conversations import ConversationStore
from handlers.core import SORRY
from handlers.decisions import decision_id_for
from scheduler.digest.queries import DigestQueries
from tests.adapter.slack.harness import HOME, Rig, blocks_text, event_body, next_ts, signed_headers
from tests.adapter.slack.waiting import settle, thread

pytestmark = pytest.mark.integration


def _event(text: str, *, ts: str, channel: str = "C0ACME") -> dict[str, Any]:
    """A customer's message in the shared channel, as Slack's event."""
    return {"type": "message", "channel": channel, "user": "U0CUST", "user_team": "T0ACME", "text": text, "ts": ts}


def _payload(text: str, *, ts: str, channel: str = "C0ACME") -> dict[str, Any]:
    return {"body": event_body(_event(text, ts=ts, channel=channel)), "installing_team": HOME, "bot_user_id": "U0BOT"}


async def _stored_by_hand(rig: Rig, text: str) -> tuple[int, str]:
    """An event stored as the ack stores it, on a queue no worker serves: the test runs its turn itself."""
    ts = next_ts()
    event_id = await InboundStore(rig.pool, queue="by-hand").accept(
        "slack", f"msg:C0ACME:{ts}", conversation_key=f"slack:C0ACME:{ts}", payload=_payload(text, ts=ts)
    )
    assert event_id is not None
    return event_id, ts


async def _rows(rig: Rig, query: str, *args: Any) -> list[tuple[Any, ...]]:
    async with rig.pool.connection() as conn:
        return list(await (await conn.execute(query.encode(), args)).fetchall())


async def test_a_message_is_stored_before_the_ack_and_answered_once(rig: Rig) -> None:
    ts, response = await rig.message("How do I reset my password?", channel="C0ACME")
    assert response.status == 200
    assert await _rows(rig, "SELECT platform FROM inbound_events WHERE event_key = %s", f"msg:C0ACME:{ts}") == [
        ("slack",)
    ]
    [answer] = await thread(rig, "C0ACME", ts)
    assert "password" in answer.params["text"].lower()
    [(state, decision)] = await _rows(
        rig,
        "SELECT e.state, d.id FROM inbound_events e JOIN decisions d ON d.id = %s WHERE e.event_key = %s",
        decision_id_for("slack", f"msg:C0ACME:{ts}"),
        f"msg:C0ACME:{ts}",
    )
    assert state == "done" and decision == decision_id_for("slack", f"msg:C0ACME:{ts}")


async def test_a_retry_after_redis_lost_everything_is_refused_by_postgresql(rig: Rig, prepared: Services) -> None:
    body = event_body(_event("How do I reset my password?", ts=(ts := next_ts())))
    assert (await rig.post_json(body)).status == 200
    assert len(await thread(rig, "C0ACME", ts)) == 1
    async with open_redis(prepared.settings) as redis:
        await redis.flushall()  # a Redis restarted empty: it remembers no event
    for attempt in (1, 2):
        assert (await rig.post_json(body, **{"X-Slack-Retry-Num": str(attempt)})).status == 200
    await settle(rig)
    assert len(await thread(rig, "C0ACME", ts)) == 1


async def test_only_retries_ask_redis_and_a_retry_is_remembered_there(rig: Rig, prepared: Services) -> None:
    """A first delivery goes straight to PostgreSQL (one round trip fewer on the ack path); a retry asks
    Redis first and is remembered there, so the next retry of it stops at Redis."""
    body = event_body(_event("Where is my order?", ts=(ts := next_ts())))
    key = f"seen:slack:msg:C0ACME:{ts}"
    async with open_redis(prepared.settings) as redis:
        before = (await redis.info("commandstats")).get("cmdstat_exists", {}).get("calls", 0)
        assert (await rig.post_json(body)).status == 200
        after = (await redis.info("commandstats")).get("cmdstat_exists", {}).get("calls", 0)
        assert after == before and not await redis.exists(key)
        assert (await rig.post_json(body, **{"X-Slack-Retry-Num": "1"})).status == 200
        await settle(rig)
        assert (await redis.info("commandstats"))["cmdstat_exists"]["calls"] > after
        assert await redis.exists(key)
    assert len(await thread(rig, "C0ACME", ts)) == 1


async def test_a_rerun_after_a_crash_between_sending_and_marking_sends_nothing_twice(rig: Rig) -> None:
    event_id, ts = await _stored_by_hand(rig, "How do I reset my password?")
    await rig.runner.run(event_id)
    assert len(await thread(rig, "C0ACME", ts)) == 1
    # the crash window: the reply went out, its mark did not (and the job ran again)
    await _rows(rig, "DELETE FROM inbound_deliveries WHERE event_id = %s RETURNING item", event_id)
    await _rows(rig, "UPDATE inbound_events SET state = 'decided' WHERE id = %s RETURNING id", event_id)
    await rig.runner.run(event_id)
    assert len(await thread(rig, "C0ACME", ts)) == 1
    assert any(c.params.get("ts") == ts for c in rig.fake.calls_to("conversations.replies"))
    assert await _rows(rig, "SELECT state FROM inbound_events WHERE id = %s", event_id) == [("done",)]


async def test_a_rerun_after_the_decision_delivers_what_was_decided_without_deciding_again(rig: Rig) -> None:
    event_id, ts = await _stored_by_hand(rig, "How do I reset my password?")
    await rig.runner.run(event_id)
    [first] = await thread(rig, "C0ACME", ts)
    # as if the reply had never left: decided, nothing delivered, nothing in the thread
    await _rows(rig, "DELETE FROM inbound_deliveries WHERE event_id = %s RETURNING item", event_id)
    await _rows(rig, "UPDATE inbound_events SET state = 'queued', outbound = NULL WHERE id = %s RETURNING id", event_id)
    rig.fake.calls.clear()
    rig.fake._posted.clear()
    turns_before = await _rows(rig, "SELECT count(*) FROM turns WHERE conversation_key = %s", f"slack:C0ACME:{ts}")
    await rig.runner.run(event_id)
    [again] = await thread(rig, "C0ACME", ts)
    assert again.params["text"] == first.params["text"]  # the decision's own items, not a new answer
    turns_after = await _rows(rig, "SELECT count(*) FROM turns WHERE conversation_key = %s", f"slack:C0ACME:{ts}")
    assert turns_after == turns_before


async def test_a_turn_that_died_inside_the_core_ends_in_one_apology_and_one_handoff(rig: Rig) -> None:
    event_id, ts = await _stored_by_hand(rig, "I want a refund for order A-10231")
    decision = decision_id_for("slack", f"msg:C0ACME:{ts}")
    # what the dead attempt left: the customer's turn stored, no decision
    await ConversationStore(rig.pool).load(f"slack:C0ACME:{ts}", platform="slack", org="acme")
    await _rows(
        rig,
        "INSERT INTO turns (conversation_key, role, author, text, decision_id) VALUES (%s, 'customer', 'U0CUST', "
        "'I want a refund for order A-10231', %s) RETURNING id",
        f"slack:C0ACME:{ts}",
        decision,
    )
    await rig.runner.run(event_id)
    await _rows(rig, "UPDATE inbound_events SET state = 'queued', outbound = NULL WHERE id = %s RETURNING id", event_id)
    await _rows(rig, "DELETE FROM inbound_deliveries WHERE event_id = %s RETURNING item", event_id)
    await rig.runner.run(event_id)  # and once more, as a second crash would
    replies = await thread(rig, "C0ACME", ts)
    assert [r.params["text"] for r in replies] == [SORRY]
    handoffs = await _rows(rig, "SELECT reason FROM handoffs WHERE dedupe_key = %s", f"interrupted:{decision}")
    assert len(handoffs) == 1 and "interrupted" in handoffs[0][0]
    assert await _rows(rig, "SELECT count(*) FROM approvals WHERE decision_id = %s", decision) == [(0,)]


class _NoDatabase:
    """An inbound store whose PostgreSQL is gone."""

    queue = "turns"

    async def accept(self, *args: Any, **kwargs: Any) -> int | None:
        raise TimeoutError("couldn't get a connection after 10.00 sec")


async def test_an_event_postgresql_cannot_store_is_not_acknowledged(rig: Rig) -> None:
    intake = rig.adapter.messages._intake
    working, intake._store = intake._store, _NoDatabase()  # type: ignore[assignment]
    try:
        ts, response = await rig.message("How do I reset my password?", channel="C0ACME")
    finally:
        intake._store = working
    assert response.status == 503  # Slack sends it again later
    assert await _rows(rig, "SELECT id FROM inbound_events WHERE event_key = %s", f"msg:C0ACME:{ts}") == []
    assert await thread(rig, "C0ACME", ts, count=0) == []


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("How do I reset my\\u0000 password?", "How do I reset my password?"),
        ("How do I reset my password? \\ud800", "How do I reset my password? \ufffd"),
    ],
)
async def test_text_postgresql_cannot_store_is_cleaned_and_answered(rig: Rig, raw: str, stored: str) -> None:
    ts = next_ts()
    body = json.dumps(
        event_body(
            {"type": "message", "channel": "C0ACME", "user": "U0CUST", "user_team": "T0ACME", "ts": ts, "text": "TEXT"}
        )
    ).replace('"TEXT"', f'"{raw}"')
    response = await rig.client.post(
        "/slack/events", data=body, headers={"Content-Type": "application/json", **signed_headers(body)}
    )
    assert response.status == 200
    [answer] = await thread(rig, "C0ACME", ts)
    assert answer.params["text"] != SORRY and "password" in answer.params["text"].lower()
    decision = decision_id_for("slack", f"msg:C0ACME:{ts}")
    assert await _rows(rig, "SELECT inbound FROM decisions WHERE id = %s", decision) == [(stored,)]


async def test_deeply_nested_json_is_a_400_not_a_500(rig: Rig) -> None:
    body = '{"type": "event_callback", "event": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = await rig.client.post(
        "/slack/events", data=body, headers={"Content-Type": "application/json", **signed_headers(body)}
    )
    assert response.status == 400


async def test_a_very_long_message_is_answered_from_its_beginning(rig: Rig) -> None:
    text = "How do I reset my password? " + "x" * 200_000
    ts, response = await rig.message(text, channel="C0ACME")
    assert response.status == 200
    [answer] = await thread(rig, "C0ACME", ts)
    assert "very long" in answer.params["text"] and "password" in blocks_text(answer).lower()


async def test_a_turn_that_failed_before_getting_through_is_in_the_digest(rig: Rig) -> None:
    event_id, ts = await _stored_by_hand(rig, "How do I reset my password?")
    await InboundStore(rig.pool).failed(event_id, "OperationalError: the database went away")
    await rig.runner.run(event_id)  # then it got through
    now = datetime.now(UTC)
    errors = await DigestQueries(rig.pool).errors(now - timedelta(hours=1), now + timedelta(minutes=1), org=None)
    [row] = [e for e in errors if e.decision_id == decision_id_for("slack", f"msg:C0ACME:{ts}")]
    assert row.outcome == "turn retried" and "the database went away" in row.detail


async def test_finished_events_are_forgotten_after_the_retention_and_waiting_ones_never(rig: Rig) -> None:
    old, _ = await _stored_by_hand(rig, "old and answered")
    waiting, _ = await _stored_by_hand(rig, "old and still waiting")
    recent, _ = await _stored_by_hand(rig, "recent and answered")
    await _rows(
        rig,
        "UPDATE inbound_events SET state = CASE WHEN id = %s THEN 'queued' ELSE 'done' END, "
        "received_at = now() - interval '40 days', finished_at = CASE WHEN id = %s THEN now() - interval '40 days' "
        "WHEN id = %s THEN now() END WHERE id IN (%s, %s, %s) RETURNING id",
        waiting,
        old,
        recent,
        old,
        waiting,
        recent,
    )
    assert await InboundStore(rig.pool).forget_done(older_than_days=30) == 1
    left = await _rows(rig, "SELECT id FROM inbound_events WHERE id IN (%s, %s, %s) ORDER BY id", old, waiting, recent)
    assert left == [(waiting,), (recent,)]
    # the waiting one is on a queue no worker serves: gone, so later tests can wait for an empty queue
    await _rows(rig, "DELETE FROM inbound_events WHERE id = %s RETURNING id", waiting)


QUESTIONS = (
    "How do I reset my password?",
    "How long do I have to return something?",
    "What does error E118 mean?",
    "Do you ship to Canada?",
    "How do I change my delivery address?",
    "Can I pay with PayPal?",
)


async def test_follow_ups_sent_together_are_answered_in_order(rig: Rig) -> None:
    """Six questions in one thread, sent without waiting: the turns run one after another (the queue's
    per-conversation lock) while the worker runs four turns at once."""
    root = next_ts()
    for question in QUESTIONS:
        body = event_body(
            {
                "type": "message",
                "channel": "C0ACME",
                "user": "U0CUST",
                "user_team": "T0ACME",
                "text": question,
                "ts": next_ts(),
                "thread_ts": root,
            }
        )
        assert (await rig.post_json(body)).status == 200
    replies = await thread(rig, "C0ACME", root, count=len(QUESTIONS), timeout=90)
    decisions = [re.search(r"dec_[0-9a-f]{12}", blocks_text(reply)) for reply in replies]
    asked = [
        (await _rows(rig, "SELECT inbound FROM decisions WHERE id = %s", found.group()))[0][0]
        for found in decisions
        if found
    ]
    assert asked == list(QUESTIONS)
    stored = await _rows(
        rig, "SELECT role, text FROM turns WHERE conversation_key = %s ORDER BY id", f"slack:C0ACME:{root}"
    )
    assert [text for role, text in stored if role == "customer"] == list(QUESTIONS)
    assert [role for role, _ in stored] == ["customer", "bot"] * len(QUESTIONS)
