"""Approvals: who may decide, exactly-once execution, undo, expiry, reminders and crash recovery.

`ApprovalService` is the one entry point; deciding lives in `approval_decisions`, running the action in
`approval_execution`, the audit trail's view of an approval in `approval_audit`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opentelemetry import trace

from escalation import audit
from escalation.approval_audit import snapshot, subject_of
from escalation.approval_decisions import ApprovalDecisions
from escalation.approval_execution import ApprovalExecution
from escalation.approvals_store import NOW, ApprovalStore
from escalation.authorization import outcome_message
from escalation.executors import ExecutorRegistry
from escalation.models import POLICY_AUTO, SYSTEM, Actor, Approval, ApprovalState, PolicyOutcome, ProposedAction, Risk
from escalation.policy import Policy

__all__ = ["ApprovalService", "Decision"]

tracer = trace.get_tracer("supportbot.escalation")
_SPAN_OF = {
    ApprovalState.PENDING: "approval request",
    ApprovalState.APPROVED: "approval by policy",
    ApprovalState.SHADOWED: "approval shadowed",
}


@dataclass(frozen=True)
class Decision:
    approval: Approval
    message: str  # what to tell the person who clicked


class ApprovalService:
    def __init__(
        self,
        store: ApprovalStore,
        policy: Policy,
        executors: ExecutorRegistry,
        *,
        lease: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock
        self._execution = ApprovalExecution(store, executors, lease=lease, clock=clock)
        self._decisions = ApprovalDecisions(store, policy, clock=clock)

    # -- creating ------------------------------------------------------------------------------

    async def create(self, proposal: ProposedAction, outcome: PolicyOutcome, *, state: ApprovalState) -> Approval:
        """Record a proposal as pending (ask a human), approved by policy (act now) or shadowed."""
        workflow = self._policy.workflow(proposal.workflow)
        # an approval for a workflow the policy does not know is treated as high risk
        risk = workflow.risk if workflow else Risk.HIGH
        decided_by = POLICY_AUTO if state is ApprovalState.APPROVED else None
        with tracer.start_as_current_span(_SPAN_OF.get(state, "approval")) as span:
            approval = await self._insert(proposal, outcome, state=state, risk=risk, decided_by=decided_by)
            span.set_attributes(
                {
                    "supportbot.approval.id": approval.id,
                    "supportbot.workflow": proposal.workflow,
                    "supportbot.action": proposal.action,
                    "supportbot.risk": risk.value,
                    "supportbot.policy.rule": outcome.rule or "",
                }
            )
        return approval

    async def _insert(
        self,
        proposal: ProposedAction,
        outcome: PolicyOutcome,
        *,
        state: ApprovalState,
        risk: Risk,
        decided_by: str | None,
    ) -> Approval:
        async with self._store.pool.connection() as conn, conn.transaction():
            approval = await self._store.insert(
                conn,
                proposal,
                risk=risk,
                rule=outcome.rule,
                state=state,
                expires_at=self._clock() + self._policy.expiry_for(proposal.workflow),
                decided_by=decided_by,
                now=self._clock(),
            )
            event = {
                ApprovalState.PENDING: "approval_requested",
                ApprovalState.APPROVED: "auto_approved",
                ApprovalState.SHADOWED: "shadow_decision",
            }[state]
            await audit.record(
                conn,
                event,
                actor=proposal.requested_by,
                workflow=proposal.workflow,
                org=proposal.org,
                subject=subject_of(approval),
                decision_id=proposal.decision_id,
                after=snapshot(approval),
                detail={
                    "rule": outcome.rule,
                    "reason": outcome.reason,
                    "inputs": outcome.inputs,
                    "shadow_of": outcome.shadow_of.value if outcome.shadow_of else None,
                },
            )
        return approval

    # -- deciding ------------------------------------------------------------------------------

    async def approve(
        self, approval_id: str, actor: Actor, *, amount_cents: int | None = None, note: str | None = None
    ) -> Decision:
        """pending → approved, then executed at once."""
        decided = await self._decisions.approve(approval_id, actor, amount_cents=amount_cents, note=note)
        executed = await self.execute(decided.id)
        return Decision(executed, outcome_message(executed, actor))

    async def deny(self, approval_id: str, actor: Actor, *, reason: str) -> Decision:
        denied = await self._decisions.deny(approval_id, actor, reason=reason)
        return Decision(denied, f"Denied by {actor.label}: {reason}")

    def refusal_reason(self, approval: Approval, actor: Actor) -> str | None:
        return self._decisions.refusal_reason(approval, actor)

    # -- executing -----------------------------------------------------------------------------

    async def execute(self, approval_id: str) -> Approval:
        """Run an approved action once (see `ApprovalExecution.execute`)."""
        return await self._execution.execute(approval_id)

    async def recover(self) -> list[Approval]:
        """At start-up: finish approvals left approved, or executing by a process that died."""
        return [await self.execute(approval_id) for approval_id in await self._store.recoverable()]

    # -- timers and recovery -------------------------------------------------------------------

    async def expire_due(self) -> list[Approval]:
        expired = []
        for approval_id in await self._store.expirable(self._clock()):
            approval = await self.expire(approval_id)
            if approval is not None:
                expired.append(approval)
        return expired

    async def expire(self, approval_id: str) -> Approval | None:
        """pending → expired, audited; None when it is no longer pending or not yet due."""
        async with self._store.pool.connection() as conn, conn.transaction():
            current = await self._store.get(approval_id, conn)
            if current is None or current.expires_at > self._clock():
                return None
            approval = await self._store.transition(
                conn, approval_id, from_states=(ApprovalState.PENDING,), to=ApprovalState.EXPIRED
            )
            if approval is None:
                return None
            await audit.record(
                conn,
                "expired",
                actor=SYSTEM,
                workflow=approval.workflow,
                org=approval.org,
                subject=subject_of(approval),
                decision_id=approval.decision_id,
            )
        return approval

    async def remind_due(self) -> list[Approval]:
        due = []
        for approval_id in await self._store.needing_reminder(self._clock(), self._policy.reminder_before):
            async with self._store.pool.connection() as conn:
                approval = await self._store.transition(
                    conn, approval_id, from_states=(ApprovalState.PENDING,), to=ApprovalState.PENDING, reminded_at=NOW
                )
            if approval is not None:
                due.append(approval)
        return due
