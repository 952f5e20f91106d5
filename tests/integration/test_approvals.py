"""Approvals on real PostgreSQL: exactly once, races, refusals, edits, undo, expiry, audit."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from escalation.errors import AlreadyDecided, ApprovalNotFound, NotAuthorized
from escalation.models import ApprovalState, OutcomeKind, ProposedAction, Stage
from tests.fakes.counting_executor import runs
from tests.integration.escalation_fixtures import AGENT, BILLING, CUSTOMER, LEAD, SECURITY, Rig, refund, rig

pytestmark = pytest.mark.integration
__all__ = ["rig"]


async def events(rig: Rig, approval_id: str) -> list[str]:
    return [e.event for e in await rig.escalation.audit.events(subject=("approval", approval_id))]


async def test_refund_waits_for_approval_then_runs_once(rig: Rig) -> None:
    proposed = await rig.escalation.propose(refund())
    assert proposed.outcome.kind is OutcomeKind.NEEDS_APPROVAL and proposed.outcome.rule == "autonomy_approve"
    assert proposed.approval is not None and proposed.approval.state is ApprovalState.PENDING
    assert await runs(rig.services.pool) == []

    decision, handoff = await rig.escalation.approve(proposed.approval.id, BILLING)
    assert handoff is None
    assert decision.approval.state is ApprovalState.EXECUTED
    assert decision.message == "Approved by Bo Billing. refund done for 2500 cents"
    assert await runs(rig.services.pool) == [(decision.approval.idempotency_key, "refund")]
    assert await events(rig, proposed.approval.id) == ["approval_requested", "approved", "executed"]


async def test_fifty_concurrent_approvals_execute_exactly_once(rig: Rig) -> None:
    proposed = await rig.escalation.propose(refund())
    assert proposed.approval is not None
    approvers = [LEAD, BILLING] * 25

    async def click(actor):  # type: ignore[no-untyped-def]
        try:
            return (await rig.escalation.approve(proposed.approval.id, actor))[0].message  # type: ignore[union-attr]
        except AlreadyDecided as exc:
            return str(exc)

    messages = await asyncio.gather(*(click(actor) for actor in approvers))
    winners = [m for m in messages if m.startswith("Approved by")]
    assert len(winners) == 1
    winner_id = "U-lead" if "Lena" in winners[0] else "U-billing"
    assert all(m == f"Already approved by {winner_id}." for m in messages if m not in winners)
    assert len(await runs(rig.services.pool)) == 1
    assert (await events(rig, proposed.approval.id)).count("decision_refused") == 49


async def test_approve_and_deny_racing_have_one_outcome(rig: Rig) -> None:
    for _ in range(5):
        proposed = await rig.escalation.propose(refund())
        assert proposed.approval is not None
        results = await asyncio.gather(
            rig.escalation.approve(proposed.approval.id, LEAD),
            rig.escalation.deny(proposed.approval.id, BILLING, reason="duplicate request"),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, AlreadyDecided)]
        assert len(errors) == 1
        final = await rig.escalation.approvals._store.get(proposed.approval.id)
        assert final is not None
        if final.state is ApprovalState.DENIED:
            assert str(errors[0]) == "Already denied by U-billing: duplicate request."
        else:
            assert final.state is ApprovalState.EXECUTED and str(errors[0]) == "Already approved by U-lead."
    assert len(await runs(rig.services.pool)) == sum(1 for _ in range(5)) - len(
        [a for a in await rig.escalation.approvals._store.list() if a.state is ApprovalState.DENIED]
    )


async def test_refused_clicks_are_answered_and_audited(rig: Rig) -> None:
    proposed = await rig.escalation.propose(refund())
    assert proposed.approval is not None
    approval_id = proposed.approval.id
    with pytest.raises(NotAuthorized, match="Customers cannot approve or deny actions"):
        await rig.escalation.approve(approval_id, CUSTOMER)
    with pytest.raises(NotAuthorized, match="You are not an approver for refund"):
        await rig.escalation.approve(approval_id, AGENT)
    with pytest.raises(ApprovalNotFound, match="There is no approval apr_nope"):
        await rig.escalation.approve("apr_nope", LEAD)
    with pytest.raises(NotAuthorized, match="a denial needs a reason"):
        await rig.escalation.deny(approval_id, LEAD, reason="  ")
    await rig.escalation.approve(approval_id, LEAD)
    with pytest.raises(AlreadyDecided, match="Already approved by U-lead"):
        await rig.escalation.approve(approval_id, LEAD)  # a replayed click
    refused = [e for e in await rig.escalation.audit.events() if e.event == "decision_refused"]
    assert [(e.actor, e.detail["reason"]) for e in refused] == [
        ("U-customer", "Customers cannot approve or deny actions."),
        ("U-agent", "You are not an approver for refund."),
        ("U-lead", "unknown approval apr_nope"),
        ("U-lead", "Already approved by U-lead."),
    ]
    assert len(await runs(rig.services.pool)) == 1


async def test_high_risk_needs_someone_other_than_the_requester(rig: Rig) -> None:
    change = ProposedAction(
        "change_email",
        "change_email",
        {"customer_id": "cus_1001", "new_email": "new@example.com"},
        requested_by="U-sec",
        conversation_key="C1:2",
        confidence=0.95,
    )
    proposed = await rig.escalation.propose(change)
    assert proposed.outcome.rule == "high_risk" and proposed.approval is not None
    with pytest.raises(NotAuthorized, match="someone other than the requester"):
        await rig.escalation.approve(proposed.approval.id, SECURITY)
    decision, _ = await rig.escalation.approve(proposed.approval.id, LEAD)
    assert decision.approval.state is ApprovalState.EXECUTED


async def test_expired_approval_refuses_clicks_and_hands_off(rig: Rig) -> None:
    proposed = await rig.escalation.propose(refund())
    assert proposed.approval is not None
    rig.clock.advance(timedelta(hours=22, minutes=30))
    reminded = await rig.escalation.approvals.remind_due()
    assert [a.id for a in reminded] == [proposed.approval.id]
    assert await rig.escalation.approvals.remind_due() == []  # reminded once
    rig.clock.advance(timedelta(hours=2))
    with pytest.raises(AlreadyDecided, match="expired"):
        await rig.escalation.approve(proposed.approval.id, LEAD)
    [(expired, handoff)] = await rig.escalation.expire_due()
    assert expired.state is ApprovalState.EXPIRED
    assert handoff.reason == "approval expired before anyone decided" and handoff.approval_id == expired.id
    assert handoff.assigned_to == "group:billing"
    assert await rig.escalation.expire_due() == []
    assert await runs(rig.services.pool) == []


async def test_approve_with_an_edited_amount_within_bounds(rig: Rig) -> None:
    proposed = await rig.escalation.propose(refund(4000))
    assert proposed.approval is not None
    with pytest.raises(NotAuthorized, match="between 1 and 50000 cents"):
        await rig.escalation.approve(proposed.approval.id, LEAD, amount_cents=60_000)
    decision, _ = await rig.escalation.approve(proposed.approval.id, LEAD, amount_cents=3000, note="partial")
    assert decision.approval.edited and decision.approval.params["amount_cents"] == 3000
    assert decision.approval.proposed_params["amount_cents"] == 4000
    assert decision.message == "Approved by Lena Lead with changes. refund done for 3000 cents"
    [edit] = [e for e in await rig.escalation.audit.events() if e.event == "approved_with_changes"]
    assert edit.before["params"]["amount_cents"] == 4000 and edit.after["params"]["amount_cents"] == 3000


async def test_auto_stage_acts_until_the_daily_limit_and_kill_switch(rig: Rig) -> None:
    await rig.escalation.autonomy.set_stage("refund", Stage.AUTO, by=LEAD, reason="two stable weeks")
    for _ in range(5):
        acted = await rig.escalation.propose(refund(1000))
        assert acted.outcome.kind is OutcomeKind.ACT
        assert acted.approval is not None and acted.approval.state is ApprovalState.EXECUTED
    limited = await rig.escalation.propose(refund(1000))
    assert limited.outcome.rule == "auto_rate_limit"
    other_org = await rig.escalation.propose(refund(1000, org="initech"))
    assert other_org.outcome.kind is OutcomeKind.ACT
    await rig.escalation.autonomy.set_kill_switch(True, by=LEAD)
    killed = await rig.escalation.propose(refund(1000, org="initech"))
    assert killed.outcome.rule == "kill_switch"
    assert len(await runs(rig.services.pool)) == 6
    changes = [e.event for e in await rig.escalation.audit.events() if e.event in {"autonomy_changed", "kill_switch"}]
    assert changes == ["autonomy_changed", "kill_switch"]


async def test_shadow_stage_never_acts_and_records_what_it_would_do(rig: Rig) -> None:
    await rig.escalation.autonomy.set_stage("refund", Stage.SHADOW, by=LEAD)
    result = await rig.escalation.propose(refund(1000), summary="Customer wants $10 back for a late parcel")
    assert result.outcome.kind is OutcomeKind.HANDOFF and result.outcome.shadow_of is OutcomeKind.ACT
    assert result.approval is not None and result.approval.state is ApprovalState.SHADOWED
    assert result.handoff is not None and result.handoff.approval_id == result.approval.id
    assert result.handoff.summary == "Customer wants $10 back for a late parcel"
    assert await runs(rig.services.pool) == []


async def test_a_failed_action_is_escalated_to_a_human_with_the_error(rig: Rig) -> None:
    proposed = await rig.escalation.propose(refund())
    assert proposed.approval is not None
    rig.executor.failures = ["final"]
    decision, handoff = await rig.escalation.approve(proposed.approval.id, LEAD)
    assert decision.approval.state is ApprovalState.FAILED
    assert decision.approval.last_error == "scripted final failure"
    assert "the action failed: scripted final failure. A person will follow up." in decision.message
    assert handoff is not None and handoff.reason == "the action failed: scripted final failure"
    assert await rig.escalation.approvals.execute(proposed.approval.id) == decision.approval  # never re-run
    assert await runs(rig.services.pool) == []


async def test_undo_is_approved_audited_and_marks_the_original_rolled_back(rig: Rig) -> None:
    proposed = await rig.escalation.propose(refund(4000))
    assert proposed.approval is not None
    done, _ = await rig.escalation.approve(proposed.approval.id, LEAD, amount_cents=3500)
    with pytest.raises(NotAuthorized, match="Customers cannot undo"):
        await rig.escalation.request_undo(done.approval.id, CUSTOMER)
    undo = await rig.escalation.request_undo(done.approval.id, AGENT)
    assert undo.kind == "undo" and undo.action == "reverse_refund" and undo.state is ApprovalState.PENDING
    assert undo.params == {"refund_of": done.approval.idempotency_key, "amount_cents": 3500}
    undone, _ = await rig.escalation.approve(undo.id, BILLING)
    assert undone.approval.state is ApprovalState.EXECUTED
    original = await rig.escalation.approvals._store.get(done.approval.id)
    assert original is not None and original.state is ApprovalState.ROLLED_BACK
    assert [a for _, a in await runs(rig.services.pool)] == ["refund", "reverse_refund"]
    with pytest.raises(NotAuthorized, match="Only an executed action can be undone"):
        await rig.escalation.request_undo(done.approval.id, AGENT)
    history = [e.event for e in await rig.escalation.audit.events()]
    assert history == [
        "policy_outcome",
        "approval_requested",
        "approved_with_changes",
        "executed",
        "decision_refused",
        "rollback_requested",
        "approved",
        "executed",
        "rolled_back",
        "decision_refused",
    ]


async def test_one_undo_at_a_time_so_a_refund_is_never_reversed_twice(rig: Rig) -> None:
    proposed = await rig.escalation.propose(refund(2000))
    assert proposed.approval is not None
    done, _ = await rig.escalation.approve(proposed.approval.id, LEAD)
    # two staff click Undo at once: one undo is asked for, the other click is told which one is waiting
    outcomes = await asyncio.gather(
        rig.escalation.request_undo(done.approval.id, AGENT),
        rig.escalation.request_undo(done.approval.id, LEAD),
        return_exceptions=True,
    )
    [first] = [o for o in outcomes if not isinstance(o, BaseException)]
    [refusal] = [o for o in outcomes if isinstance(o, NotAuthorized)]
    assert str(refusal) == f"An undo of this action is already waiting: {first.id}."
    with pytest.raises(NotAuthorized, match=f"already waiting: {first.id}"):
        await rig.escalation.request_undo(done.approval.id, AGENT)
    # once that undo is denied, another may be asked for; approved, it reverses the refund once
    await rig.escalation.deny(first.id, BILLING, reason="customer keeps the refund")
    second = await rig.escalation.request_undo(done.approval.id, AGENT)
    undone, _ = await rig.escalation.approve(second.id, BILLING)
    assert undone.approval.state is ApprovalState.EXECUTED
    assert [a for _, a in await runs(rig.services.pool)] == ["refund", "reverse_refund"]
    with pytest.raises(NotAuthorized, match="Only an executed action can be undone; this one is rolled_back"):
        await rig.escalation.request_undo(done.approval.id, LEAD)


async def test_undo_window_closes(rig: Rig) -> None:
    proposed = await rig.escalation.propose(refund())
    assert proposed.approval is not None
    await rig.escalation.approve(proposed.approval.id, LEAD)
    rig.clock.advance(timedelta(hours=73))
    with pytest.raises(NotAuthorized, match="undo window for this action has closed"):
        await rig.escalation.request_undo(proposed.approval.id, LEAD)
