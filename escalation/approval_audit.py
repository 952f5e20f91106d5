"""How an approval appears in the audit trail: its subject, its state before and after, and refused clicks."""

from __future__ import annotations

from typing import Any

from escalation import audit
from escalation.approvals_store import ApprovalStore
from escalation.models import Actor, Approval


async def refused(
    store: ApprovalStore, approval: Approval | None, actor: Actor, *, verb: str, reason: str, approval_id: str
) -> None:
    """Every refused click is answered by the caller and recorded here."""
    await audit.AuditLog(store.pool).record(
        "decision_refused",
        actor=actor,
        workflow=approval.workflow if approval else None,
        org=approval.org if approval else None,
        subject=("approval", approval_id),
        detail={"attempted": verb, "reason": reason},
    )


def subject_of(approval: Approval) -> tuple[str, str]:
    return ("approval", approval.id)


def snapshot(approval: Approval) -> dict[str, Any]:
    return {"state": approval.state.value, "params": approval.params, "decided_by": approval.decided_by}
