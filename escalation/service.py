"""The escalation facade the conversation core calls: propose, decide, undo, timers, recovery."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opentelemetry import trace

from escalation import audit
from escalation.approvals import ApprovalService, Decision
from escalation.approvals_store import ApprovalStore
from escalation.audit import AuditLog, Pool
from escalation.autonomy import Autonomy
from escalation.executors import ExecutorRegistry
from escalation.handoffs import HandoffService
from escalation.models import (
    Actor,
    Approval,
    ApprovalState,
    Handoff,
    OutcomeKind,
    PolicyContext,
    PolicyOutcome,
    ProposedAction,
)
from escalation.policy import Policy, evaluate
from escalation.undo import UndoRequests

log = logging.getLogger(__name__)
tracer = trace.get_tracer("supportbot.escalation")


@dataclass(frozen=True)
class ProposalResult:
    outcome: PolicyOutcome
    approval: Approval | None = None  # pending (ask staff), executed/failed (acted), shadowed
    handoff: Handoff | None = None


class Escalation:
    def __init__(
        self,
        pool: Pool,
        policy: Policy,
        executors: ExecutorRegistry,
        *,
        lease: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policy = policy
        self.executors = executors
        self.audit = AuditLog(pool)
        self.autonomy = Autonomy(pool, policy, clock=clock)
        self.handoffs = HandoffService(pool, policy, clock=clock)
        self._store = ApprovalStore(pool)
        self.approvals = ApprovalService(self._store, policy, executors, lease=lease, clock=clock)
        self.undo = UndoRequests(self._store, policy, clock=clock)
        self._pool = pool
        self._clock = clock

    async def approval(self, approval_id: str) -> Approval | None:
        return await self._store.get(approval_id)

    def undoable(self, approval: Approval) -> bool:
        """An executed action, not itself an undo, whose workflow declares how to roll it back: its card offers
        Undo (which asks for its own approval)."""
        if approval.state is not ApprovalState.EXECUTED or approval.rollback_of:
            return False
        workflow = self.policy.workflow(approval.workflow)
        return bool(workflow and workflow.rollback)

    async def list_approvals(self, *, states: tuple[ApprovalState, ...] | None = None) -> list[Approval]:
        return await self._store.list(states=states)

    async def context_for(self, proposal: ProposedAction) -> PolicyContext:
        day_ago = self._clock() - timedelta(days=1)
        return PolicyContext(
            stage=await self.autonomy.stage(proposal.workflow),
            kill_switch=await self.autonomy.kill_switch(),
            auto_actions_today=await self._store.auto_actions_since(proposal.workflow, proposal.org, day_ago),
        )

    async def propose(self, proposal: ProposedAction, *, summary: str = "") -> ProposalResult:
        """Ask policy, record the outcome, and carry it out: act once, ask for approval, hand off or refuse."""
        with tracer.start_as_current_span("policy evaluation") as span:
            outcome = evaluate(self.policy, proposal, await self.context_for(proposal))
            span.set_attributes(
                {
                    "supportbot.workflow": proposal.workflow,
                    "supportbot.action": proposal.action,
                    "supportbot.policy.outcome": outcome.kind.value,
                    "supportbot.policy.rule": outcome.rule,
                }
            )
        async with self._pool.connection() as conn:
            await audit.record(
                conn,
                "policy_outcome",
                actor=proposal.requested_by,
                workflow=proposal.workflow,
                org=proposal.org,
                decision_id=proposal.decision_id,
                detail={
                    "kind": outcome.kind.value,
                    "rule": outcome.rule,
                    "reason": outcome.reason,
                    "inputs": outcome.inputs,
                    "action": proposal.action,
                    "params": proposal.params,
                },
            )
        if outcome.kind is OutcomeKind.REFUSE:
            return ProposalResult(outcome)
        if outcome.kind is OutcomeKind.NEEDS_APPROVAL:
            return ProposalResult(outcome, await self.approvals.create(proposal, outcome, state=ApprovalState.PENDING))
        if outcome.kind is OutcomeKind.ACT:
            created = await self.approvals.create(proposal, outcome, state=ApprovalState.APPROVED)
            executed = await self.approvals.execute(created.id)
            return ProposalResult(outcome, executed, await self._handoff_if_failed(executed))
        shadow = (
            await self.approvals.create(proposal, outcome, state=ApprovalState.SHADOWED) if outcome.shadow_of else None
        )
        handoff = await self.handoffs.create(
            conversation_key=proposal.conversation_key or "unknown",
            reason=outcome.reason,
            summary=summary or f"{proposal.workflow}: {proposal.action} {proposal.params}",
            org=proposal.org,
            workflow=proposal.workflow,
            approval_id=shadow.id if shadow else None,
            decision_id=proposal.decision_id,
        )
        return ProposalResult(outcome, shadow, handoff)

    async def approve(
        self, approval_id: str, actor: Actor, *, amount_cents: int | None = None, note: str | None = None
    ) -> tuple[Decision, Handoff | None]:
        decision = await self.approvals.approve(approval_id, actor, amount_cents=amount_cents, note=note)
        return decision, await self._handoff_if_failed(decision.approval)

    async def deny(self, approval_id: str, actor: Actor, *, reason: str) -> Decision:
        return await self.approvals.deny(approval_id, actor, reason=reason)

    async def request_undo(self, approval_id: str, actor: Actor) -> Approval:
        return await self.undo.request_undo(approval_id, actor)

    async def expire_due(self) -> list[tuple[Approval, Handoff]]:
        """Expired approvals go to a human; the caller tells the customer."""
        return [(approval, await self._handoff_expired(approval)) for approval in await self.approvals.expire_due()]

    async def expire(self, approval_id: str) -> tuple[Approval, Handoff] | None:
        """One approval, if it is pending and due (see `expire_due`)."""
        approval = await self.approvals.expire(approval_id)
        return None if approval is None else (approval, await self._handoff_expired(approval))

    async def _handoff_expired(self, approval: Approval) -> Handoff:
        return await self.handoffs.create(
            conversation_key=approval.conversation_key or "unknown",
            org=approval.org,
            workflow=approval.workflow,
            reason="approval expired before anyone decided",
            summary=(
                f"{approval.action} {approval.params} waited for approval until {approval.expires_at:%Y-%m-%d %H:%M}"
            ),
            approval_id=approval.id,
            decision_id=approval.decision_id,
        )

    async def recover(self) -> list[Approval]:
        """Run at start-up: finish approvals a crashed process left approved or executing."""
        recovered = await self.approvals.recover()
        for approval in recovered:
            await self._handoff_if_failed(approval)
        if recovered:
            log.info("recovered %d approvals left unfinished", len(recovered))
        return recovered

    async def _handoff_if_failed(self, approval: Approval) -> Handoff | None:
        if approval.state is not ApprovalState.FAILED:
            return None
        return await self.handoffs.create(
            conversation_key=approval.conversation_key or "unknown",
            org=approval.org,
            workflow=approval.workflow,
            reason=f"the action failed: {approval.last_error}",
            summary=f"{approval.action} {approval.params} was approved but failed after {approval.attempts} attempt(s)",
            approval_id=approval.id,
            decision_id=approval.decision_id,
        )
