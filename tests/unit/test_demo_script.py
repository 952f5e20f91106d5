"""The demo's plan: the same seed gives the same conversations, spread over the weeks asked for, up to an hour
ago, with every kind of refund outcome early on and never more refunded than an order can give back."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from bot.demo.script import KEY_PREFIX, LEFT_PENDING, REFUNDABLE, Decide, Expire, Say, Undo, plan

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_the_same_seed_plays_the_same_conversations() -> None:
    assert plan(now=NOW, weeks=2, per_week=18) == plan(now=NOW, weeks=2, per_week=18)
    assert plan(now=NOW, weeks=2, per_week=18, seed=8) != plan(now=NOW, weeks=2, per_week=18)


def test_conversations_spread_over_the_weeks_and_grow() -> None:
    conversations = plan(now=NOW, weeks=8, per_week=40)
    assert 300 <= len(conversations) <= 340
    assert all(c.key.startswith(KEY_PREFIX) for c in conversations)
    assert len({c.key for c in conversations}) == len(conversations)
    starts = [c.start for c in conversations]
    assert starts == sorted(starts)
    assert NOW - timedelta(weeks=8, days=1) < starts[0] and starts[-1] <= NOW - timedelta(hours=1)
    first_week = sum(s < NOW - timedelta(weeks=7) for s in starts)
    last_week = sum(s >= NOW - timedelta(weeks=1, hours=1) for s in starts)
    assert first_week < last_week
    assert {c.kind for c in conversations} == {
        "answer", "gap", "out_of_scope", "order_status", "refund", "cancel_order", "change_email", "talk_to_human"
    }  # fmt: skip


def test_the_first_refunds_show_every_outcome() -> None:
    refunds = [c for c in plan(now=NOW, weeks=2, per_week=18) if c.kind == "refund"][:6]
    acts = [[type(step.act) for step in c.steps] for c in refunds]
    decisions = [next((s.act for s in c.steps if isinstance(s.act, Decide)), None) for c in refunds]
    assert decisions[0] is not None and decisions[0].approve and decisions[0].amount_cents is None
    assert decisions[1] is not None and decisions[1].amount_cents is not None  # approved with a smaller amount
    assert decisions[2] is not None and decisions[2].through_webhook
    assert decisions[3] is not None and not decisions[3].approve and decisions[3].reason
    assert Expire in acts[4] and Undo in acts[5]


def test_refunds_never_ask_for_more_than_an_order_has_left() -> None:
    granted: Counter[str] = Counter()
    for conversation in plan(now=NOW, weeks=8, per_week=200):
        if conversation.kind != "refund":
            continue
        first = conversation.steps[0].act
        assert isinstance(first, Say)
        order = first.text.split("order ")[1].split(",")[0]
        amount = next(
            round(float(s.act.text.lstrip("$")) * 100) for s in conversation.steps[1:2] if isinstance(s.act, Say)
        )
        decide = next((s.act for s in conversation.steps if isinstance(s.act, Decide) and s.act.approve), None)
        if decide is not None and not decide.through_webhook:
            granted[order] += decide.amount_cents or amount
    assert granted and all(granted[order] <= REFUNDABLE[order] for order in granted)


def test_the_latest_requests_are_left_for_a_person() -> None:
    conversations = plan(now=NOW, weeks=8, per_week=40)
    waiting = [c for c in conversations if NOW - c.start in {ago for _, ago in LEFT_PENDING}]
    assert [c.kind for c in waiting] == [kind for kind, _ in LEFT_PENDING]
    assert all(isinstance(step.act, Say) for c in waiting for step in c.steps)
    assert all(NOW - c.start < timedelta(hours=24) for c in waiting)  # still inside the approval expiry
