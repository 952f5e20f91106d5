"""Staff in Slack: approval cards, Approve / Approve with changes / Deny, refusals, hand-offs, feedback, /support."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.demo.backend import DemoBackend
from bot.services import Services
from bot.slack import render
from escalation.models import ApprovalState
from tests.adapter.slack.harness import HOME, STAFF_CHANNEL, Rig, blocks_text
from tests.adapter.slack.refunds import CHANNEL, REFUND, TEAM
from tests.adapter.slack.refunds import refund_card as _refund_card
from tests.adapter.slack.refunds import value_of as _value_of
from tests.adapter.slack.waiting import settle, thread, until
from tests.fakes.slack_api import Call

pytestmark = pytest.mark.integration

LEAD = "U0LEAD"  # in user group S0LEADS = policy group support-leads


@pytest.fixture(autouse=True)
async def fresh_orders(prepared: Services) -> None:
    """Every test refunds the same order from a full balance."""
    await DemoBackend(prepared.pool).reset_demo_data()


async def _opened_view(rig: Rig, before: int) -> dict[str, Any]:
    opened = (await rig.fake.wait_for_async("views.open", count=before + 1))[-1]
    view = opened.params["view"]
    return dict(json.loads(view) if isinstance(view, str) else view)


async def _updates_of(rig: Rig, approval_id: str) -> list[Call]:
    ref = await rig.adapter.channels.card(approval_id, "slack")
    assert ref is not None and ref.channel_id == STAFF_CHANNEL
    return [c for c in rig.fake.calls_to("chat.update") if c.params.get("ts") == ref.message_ref]


async def _refunds(services: Services, approval_id: str) -> int:
    async with services.pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT count(*) FROM demo.executed_actions WHERE idempotency_key = "
                "(SELECT idempotency_key FROM approvals WHERE id = %s)",
                (approval_id,),
            )
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_the_card_tells_an_approver_everything(rig: Rig) -> None:
    _, approval_id, card = await _refund_card(rig)
    text = blocks_text(card)
    assert approval_id.startswith("apr_")
    for expected in ("refund", "$30.00", "globex", "U0CUST", "In their words", "arrived broken", "Rule"):
        assert expected in text, expected
    assert "Confidence" in text and "Open the conversation" in text
    for action in ("sb:approve", render.APPROVE_WITH_CHANGES, "sb:deny", "sb:take_over"):
        assert action in text


async def test_refund_approved_runs_once_updates_the_card_and_tells_the_customer(rig: Rig, prepared: Services) -> None:
    ts, approval_id, _ = await _refund_card(rig)
    for _ in range(3):  # a double click and Slack's own retry: one refund
        response = await rig.click("sb:approve", approval_id, user=LEAD)
        assert response.status == 200
    told = await thread(rig, CHANNEL, ts, count=3)
    assert told[-1].params["text"].startswith("Good news: (demo) Refunded $30.00 to the card ending")
    assert told[-1].params["text"].endswith("for order A-10232.")
    assert len([c for c in told if c.params["text"].startswith("Good news")]) == 1
    approval = await prepared.escalation.approval(approval_id)
    assert approval is not None and approval.state is ApprovalState.EXECUTED
    assert await _refunds(prepared, approval_id) == 1
    updates = await until(lambda: _updates_of(rig, approval_id))
    final = blocks_text(updates[-1])
    assert "Approved and done" in final and f"<@{LEAD}>" in final and "Refunded $30.00" in final
    assert '"sb:approve"' not in final and '"sb:deny"' not in final  # buttons gone
    assert '"sb:undo"' in final  # refunds can be reversed


async def test_approve_with_changes_takes_the_edited_amount(rig: Rig, prepared: Services) -> None:
    ts, approval_id, _ = await _refund_card(rig)
    before = len(rig.fake.calls_to("views.open"))
    await rig.click(render.APPROVE_WITH_CHANGES, approval_id, user=LEAD)
    view = await _opened_view(rig, before)
    assert view["callback_id"] == render.MODAL_DECIDE and view["blocks"][1]["element"]["initial_value"] == "30.00"
    bad = await rig.submit_view(view, {"amount": "thirty", "note": ""}, user=LEAD)
    assert (await bad.json())["errors"] == {"amount": "Enter an amount such as 35.00"}
    ok = await rig.submit_view(view, {"amount": "25.00", "note": "partial: one plug"}, user=LEAD)
    assert ok.status == 200
    told = await thread(rig, CHANNEL, ts, count=3)
    assert told[-1].params["text"].startswith("Good news: (demo) Refunded $25.00")
    approval = await prepared.escalation.approval(approval_id)
    assert approval is not None and approval.edited and approval.params["amount_cents"] == 2500


async def test_deny_asks_for_a_reason_and_tells_the_customer(rig: Rig, prepared: Services) -> None:
    ts, approval_id, _ = await _refund_card(rig, "$40")
    before = len(rig.fake.calls_to("views.open"))
    await rig.click("sb:deny", approval_id, user=LEAD)
    view = await _opened_view(rig, before)
    empty = await rig.submit_view(view, {"reason": "  "}, user=LEAD)
    assert "reason" in (await empty.json())["errors"]
    await rig.submit_view(view, {"reason": "already refunded last week"}, user=LEAD)
    told = await thread(rig, CHANNEL, ts, count=3)
    assert told[-1].params["text"].startswith("A teammate reviewed your request and couldn't approve it.")
    assert "already refunded" not in told[-1].params["text"]  # internal reasons stay internal
    approval = await prepared.escalation.approval(approval_id)
    assert approval is not None and approval.state is ApprovalState.DENIED
    assert approval.decision_note == "already refunded last week"
    final = blocks_text((await until(lambda: _updates_of(rig, approval_id)))[-1])
    assert "Denied" in final and "already refunded last week" in final


async def test_someone_who_is_not_an_approver_is_refused_privately_and_audited(rig: Rig, prepared: Services) -> None:
    _, approval_id, _ = await _refund_card(rig)
    before = len(rig.fake.calls_to("chat.postEphemeral"))
    await rig.click("sb:approve", approval_id, user="U0NOBODY")  # staff team, no approver group
    await rig.click("sb:approve", approval_id, user="U0CUST", team=TEAM)  # a customer
    ephemerals = (await rig.fake.wait_for_async("chat.postEphemeral", count=before + 2))[before:]
    by_user = {c.params["user"]: c.params["text"] for c in ephemerals}
    assert by_user["U0NOBODY"] == "You are not an approver for refund."
    assert by_user["U0CUST"] == "Customers cannot approve or deny actions."
    approval = await prepared.escalation.approval(approval_id)
    assert approval is not None and approval.state is ApprovalState.PENDING
    events = await prepared.escalation.audit.events(subject=("approval", approval_id))
    refused = [e for e in events if e.event == "decision_refused"]
    assert {e.actor for e in refused} == {"U0NOBODY", "U0CUST"}
    assert await _updates_of(rig, approval_id) == []  # the card is untouched


async def test_take_over_from_the_card_silences_the_bot(rig: Rig) -> None:
    ts, approval_id, _ = await _refund_card(rig)
    await rig.click("sb:take_over", approval_id, user="U0STAFF")
    await settle(rig)
    posts = len(await thread(rig, CHANNEL, ts, count=2))
    await rig.message("Any news on my refund?", channel=CHANNEL, team=TEAM, thread_ts=ts)
    await settle(rig)
    assert len(await thread(rig, CHANNEL, ts, count=posts)) == posts


async def test_talk_to_a_human_posts_a_handoff_card_that_can_be_claimed_and_closed(
    rig: Rig, prepared: Services
) -> None:
    ts, _ = await rig.message("How do I reset my password?", channel="C0ACME")
    [answer] = await thread(rig, "C0ACME", ts)
    decision_id = _value_of(answer, "sb:talk_to_human")
    staff_before = len(rig.posts_to(STAFF_CHANNEL))
    await rig.click("sb:talk_to_human", decision_id, user="U0CUST", team="T0ACME", channel="C0ACME", thread_ts=ts)
    told = await thread(rig, "C0ACME", ts, count=2)
    assert told[-1].params["text"].startswith("I've asked a person from our team to join")
    [card] = await until(lambda: rig.posts_to(STAFF_CHANNEL)[staff_before:])
    assert "asked for a person" in blocks_text(card)
    handoff_id = _value_of(card, "sb:take_over")
    await rig.click("sb:take_over", handoff_id, user="U0STAFF")
    await until(lambda: _claimed(prepared, handoff_id))
    await rig.click(render.HANDOFF_CLOSE, handoff_id, user="U0STAFF")
    handoff = await until(lambda: _closed(prepared, handoff_id))
    assert handoff


async def _claimed(services: Services, handoff_id: str) -> bool:
    return (await services.escalation.handoffs.get(handoff_id)).state.value == "claimed"


async def _closed(services: Services, handoff_id: str) -> bool:
    return (await services.escalation.handoffs.get(handoff_id)).state.value == "closed"


async def test_helpful_and_not_helpful_feedback_is_stored_and_feeds_gaps(rig: Rig, prepared: Services) -> None:
    ts, _ = await rig.message("How do I reset my password?", channel="C0ACME")
    [answer] = await thread(rig, "C0ACME", ts)
    decision_id = _value_of(answer, "sb:not_helpful")
    before = len(rig.fake.calls_to("views.open"))
    await rig.click("sb:not_helpful", decision_id, user="U0CUST", team="T0ACME", channel="C0ACME", thread_ts=ts)
    view = await _opened_view(rig, before)
    assert view["callback_id"] == render.MODAL_NOT_HELPFUL
    await rig.submit_view(view, {"comment": "I have no access to my email any more"}, user="U0CUST", team="T0ACME")

    async def feedback() -> list[Any]:
        async with prepared.pool.connection() as conn:
            cur = await conn.execute("SELECT helpful, comment FROM feedback WHERE decision_id = %s", (decision_id,))
            return list(await cur.fetchall())

    assert await until(feedback) == [(False, "I have no access to my email any more")]

    async def gaps() -> list[str]:  # written just after the feedback row
        async with prepared.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT reason FROM kb_gaps WHERE detail = %s", ("I have no access to my email any more",)
            )
            return [row[0] for row in await cur.fetchall()]

    assert await until(gaps) == ["negative_feedback"]


async def test_support_command_connects_channels_for_staff_only(rig: Rig, prepared: Services) -> None:
    refused = await rig.command("connect initech", user="U0CUST", team="T0ACME", channel="C0INITECH")
    assert (await refused.json())["text"] == "That command is for the support team."
    assert await rig.adapter.channels.org_for("slack", "C0INITECH") is None
    done = await rig.command("connect Initech", user="U0STAFF", team=HOME, channel="C0INITECH")
    body = await done.json()
    assert body["response_type"] == "ephemeral" and "initech" in body["text"]
    assert await rig.adapter.channels.org_for("slack", "C0INITECH") == "initech"
    status = await (await rig.command("status", user="U0CUST", team="T0INITECH", channel="C0INITECH")).json()
    assert "connected to *initech*" in status["text"] and "Pending approvals" not in status["text"]
    staff_status = await (await rig.command("status", user="U0STAFF", channel="C0INITECH")).json()
    assert "Pending approvals" in staff_status["text"]
    helped = await (await rig.command("", user="U0CUST", team="T0INITECH")).json()
    assert "/support" in helped["text"]
    autonomy = await (await rig.command("autonomy", user="U0STAFF")).json()
    assert "`refund`" in autonomy["text"]


async def test_support_explain_shows_a_decision_to_staff(rig: Rig) -> None:
    ts, _ = await rig.message("How do I reset my password?", channel="C0ACME")
    [answer] = await thread(rig, "C0ACME", ts)
    decision_id = _value_of(answer, "sb:helpful")
    shown = await (await rig.command(f"explain {decision_id}", user="U0STAFF")).json()
    assert decision_id in shown["text"] and "reset" in shown["text"].lower()
    hidden = await (await rig.command(f"explain {decision_id}", user="U0CUST", team="T0ACME")).json()
    assert hidden["text"] == "That command is for the support team."


async def test_undo_on_an_executed_refund_asks_for_its_own_approval(rig: Rig, prepared: Services) -> None:
    _, approval_id, _ = await _refund_card(rig)
    await rig.click("sb:approve", approval_id, user=LEAD)
    await until(lambda: _updates_of(rig, approval_id))
    cards_before = len(rig.posts_to(STAFF_CHANNEL))
    await rig.click("sb:undo", approval_id, user=LEAD)
    [undo_card] = await until(lambda: rig.posts_to(STAFF_CHANNEL)[cards_before:])
    assert "Undo: reverse_refund" in undo_card.params["text"] or "reverse_refund" in blocks_text(undo_card)
    undo_id = _value_of(undo_card, "sb:approve")
    undo = await prepared.escalation.approval(undo_id)
    assert undo is not None and undo.rollback_of == approval_id and undo.state is ApprovalState.PENDING


async def test_a_reminder_lands_in_the_thread_of_its_card(rig: Rig) -> None:
    _, approval_id, _ = await _refund_card(rig)
    card = await rig.adapter.channels.card(approval_id, "slack")
    assert card is not None
    await rig.adapter.outbox.add(
        kind="staff_note",
        text=f"Reminder: refund ({approval_id}) is waiting for a decision.",
        source="job:test",
        payload={"approval_id": approval_id},
    )
    assert await rig.adapter.drain.drain_once() >= 1
    [reminder] = [c for c in rig.posts_to(STAFF_CHANNEL) if c.params.get("thread_ts") == card.message_ref]
    assert reminder.params["text"].startswith("Reminder: refund")
    assert await rig.adapter.drain.drain_once() == 0  # delivered once


async def test_messages_of_one_thread_are_handled_in_order_even_when_they_arrive_together(rig: Rig) -> None:
    ts, _ = await rig.message(REFUND, channel=CHANNEL, team=TEAM)
    await rig.message("$30", channel=CHANNEL, team=TEAM, thread_ts=ts)  # no waiting in between
    told = [c.params["text"] for c in await thread(rig, CHANNEL, ts, count=2)]
    assert told[0] == "How much should be refunded (for example $25.00)?"
    assert told[1].startswith("I've asked a teammate to approve a refund of $30.00 for order A-10232")


async def test_a_feedback_comment_with_text_postgresql_cannot_store_is_kept_cleaned(
    rig: Rig, prepared: Services
) -> None:
    ts, _ = await rig.message("How do I reset my password?", channel="C0ACME")
    [answer] = await thread(rig, "C0ACME", ts)
    decision_id = _value_of(answer, "sb:not_helpful")
    before = len(rig.fake.calls_to("views.open"))
    await rig.click("sb:not_helpful", decision_id, user="U0CUST", team="T0ACME", channel="C0ACME", thread_ts=ts)
    view = await _opened_view(rig, before)
    await rig.submit_view(view, {"comment": "No access\x00 to my email \ud800"}, user="U0CUST", team="T0ACME")

    async def feedback() -> list[Any]:
        async with prepared.pool.connection() as conn:
            cur = await conn.execute("SELECT comment FROM feedback WHERE decision_id = %s", (decision_id,))
            return list(await cur.fetchall())

    assert await until(feedback) == [("No access to my email \ufffd",)]
