"""Hand-offs, autonomy stages and readiness, and the append-only audit trail."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from escalation.errors import AlreadyDecided, NotAuthorized, PolicyError
from escalation.models import ApprovalState, HandoffState, Stage
from tests.integration.escalation_fixtures import AGENT, BILLING, CUSTOMER, LEAD, Rig, refund, rig

pytestmark = pytest.mark.integration
__all__ = ["rig"]
REPO = Path(__file__).resolve().parents[2]


async def test_handoff_claim_hand_back_close(rig: Rig) -> None:
    handoffs = rig.escalation.handoffs
    created = await handoffs.create(
        conversation_key="C9:1",
        reason="customer asked for a person",
        summary="Wants to talk about an invoice",
        org="globex",
        workflow="talk_to_human",
        would_have_said="Invoices are emailed monthly.",
        links=["https://acme.slack.com/archives/C9/p1"],
    )
    assert created.state is HandoffState.OPEN and created.assigned_to == "group:support-tier1"
    assert await handoffs.owner("C9:1") is None
    with pytest.raises(NotAuthorized):
        await handoffs.claim(created.id, CUSTOMER)
    claimed = await handoffs.claim(created.id, AGENT)
    assert claimed.claimed_by == "U-agent" and await handoffs.owner("C9:1") == "U-agent"
    with pytest.raises(AlreadyDecided, match="already claimed by U-agent"):
        await handoffs.claim(created.id, BILLING)
    with pytest.raises(NotAuthorized, match="Only U-agent or a team lead"):
        await handoffs.hand_back(created.id, BILLING)
    returned = await handoffs.hand_back(created.id, AGENT)
    assert returned.state is HandoffState.RETURNED and await handoffs.owner("C9:1") is None
    closed = await handoffs.close(created.id, LEAD)
    assert closed.state is HandoffState.CLOSED
    trail = [(e.event, e.actor) for e in await rig.escalation.audit.events(subject=("handoff", created.id))]
    assert trail == [
        ("handoff_created", "system"),
        ("handoff_claimed", "U-agent"),
        ("handoff_returned", "U-agent"),
        ("handoff_closed", "U-lead"),
    ]


async def test_unclaimed_handoffs_climb_the_escalation_path(rig: Rig) -> None:
    handoffs = rig.escalation.handoffs
    created = await handoffs.create(conversation_key="C9:2", reason="refund failed", summary="s", workflow="refund")
    assert created.assigned_to == "group:billing"
    assert await handoffs.escalate_overdue() == []
    rig.clock.advance(timedelta(minutes=31))
    [first] = await handoffs.escalate_overdue()
    assert (first.level, first.assigned_to) == (1, "group:support-leads")
    assert await handoffs.escalate_overdue() == []  # the SLA restarts at each level
    rig.clock.advance(timedelta(minutes=31))
    [second] = await handoffs.escalate_overdue()
    assert (second.level, second.assigned_to) == (2, "group:support-leads")  # top of the path stays put
    await handoffs.claim(created.id, LEAD)
    rig.clock.advance(timedelta(hours=2))
    assert await handoffs.escalate_overdue() == []


async def test_autonomy_set_is_audited_and_unknown_workflows_refused(rig: Rig) -> None:
    autonomy = rig.escalation.autonomy
    assert (await autonomy.stages())["refund"] == (Stage.APPROVE, None, None)
    previous = await autonomy.set_stage("refund", Stage.AUTO, by=LEAD, reason="stable for two weeks")
    assert previous is Stage.APPROVE
    stage, by, _ = (await autonomy.stages())["refund"]
    assert (stage, by) == (Stage.AUTO, "U-lead")
    with pytest.raises(PolicyError, match="unknown workflow 'teleport'"):
        await autonomy.set_stage("teleport", Stage.AUTO, by=LEAD)
    with pytest.raises(NotAuthorized):
        await autonomy.set_stage("refund", Stage.SHADOW, by=CUSTOMER)
    [change] = [e for e in await rig.escalation.audit.events() if e.event == "autonomy_changed"]
    assert (change.before, change.after, change.detail) == (
        {"stage": "approve"},
        {"stage": "auto"},
        {"reason": "stable for two weeks"},
    )


async def test_readiness_needs_two_stable_weeks(rig: Rig) -> None:
    autonomy = rig.escalation.autonomy
    # week one (8-14 days ago): 10 approvals unchanged
    rig.clock.advance(timedelta(days=-10))
    for _ in range(10):
        proposed = await rig.escalation.propose(refund(1000))
        assert proposed.approval is not None
        await rig.escalation.approve(proposed.approval.id, LEAD)
    rig.clock.advance(timedelta(days=10))
    not_yet = await autonomy.readiness("refund")
    assert not not_yet.ready
    assert [w.decisions for w in not_yet.weeks] == [10, 0]
    assert any("0 decisions (< 10)" in blocker for blocker in not_yet.blockers)

    for i in range(10):  # week two: 9 unchanged, 1 edited
        proposed = await rig.escalation.propose(refund(1000))
        assert proposed.approval is not None
        await rig.escalation.approve(proposed.approval.id, BILLING, amount_cents=900 if i == 0 else None)
    ready = await autonomy.readiness("refund")
    assert [(w.decisions, w.approved_unchanged, w.approved_with_changes) for w in ready.weeks] == [
        (10, 10, 0),
        (10, 9, 1),
    ]
    assert ready.ready and ready.next_stage is Stage.AUTO

    proposed = await rig.escalation.propose(refund(1000))
    assert proposed.approval is not None
    await rig.escalation.deny(proposed.approval.id, LEAD, reason="wrong order")
    blocked = await autonomy.readiness("refund")
    assert not blocked.ready
    assert any("denied" in blocker for blocker in blocked.blockers)
    assert (await rig.escalation.approvals._store.get(proposed.approval.id)).state is ApprovalState.DENIED  # type: ignore[union-attr]


async def test_the_database_refuses_to_change_audit_rows(rig: Rig) -> None:
    await rig.escalation.audit.record("note", actor="U-lead", detail={"text": "hello"})
    async with rig.services.pool.connection() as conn:
        for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
            with pytest.raises(psycopg.errors.RaiseException, match="audit_log is append-only"):
                async with conn.transaction():
                    await conn.execute(statement)
    [event] = await rig.escalation.audit.events()
    assert (event.event, event.actor, event.detail) == ("note", "U-lead", {"text": "hello"})


def test_application_code_never_updates_or_deletes_audit_rows() -> None:
    pattern = re.compile(r"(UPDATE\s+audit_log|DELETE\s+FROM\s+audit_log|TRUNCATE[^;\"]*audit_log)", re.IGNORECASE)
    offenders = [
        str(path.relative_to(REPO))
        for package in ("bot", "handlers", "knowledge", "escalation", "scheduler")
        for path in (REPO / package).rglob("*.py")
        if pattern.search(path.read_text("utf-8"))
    ]
    assert offenders == []
