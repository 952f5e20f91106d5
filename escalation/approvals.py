"""Approvals: who may decide, exactly-once execution, undo, expiry, reminders and crash recovery."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import trace

from escalation import audit
from escalation.approvals_store import NOW, ApprovalStore
from escalation.authorization import amount_problem, outcome_message, refusal_reason
from escalation.errors import AlreadyDecided, ApprovalNotFound, ExecutionFailed, NotAuthorized, UnknownAction
from escalation.executors import ActionRequest, ExecutorRegistry
from escalation.formatting import AMOUNT
from escalation.models import POLICY_AUTO, SYSTEM, Actor, Approval, ApprovalState, PolicyOutcome, ProposedAction, Risk
from escalation.policy import Policy

log = logging.getLogger(__name__)
tracer = trace.get_tracer("supportbot.escalation")
_SPAN_OF = {
    ApprovalState.PENDING: "approval request",
    ApprovalState.APPROVED: "approval by policy",
    ApprovalState.SHADOWED: "approval shadowed",
}

_DECIDED = (
    ApprovalState.APPROVED,
    ApprovalState.EXECUTING,
    ApprovalState.EXECUTED,
    ApprovalState.FAILED,
    ApprovalState.ROLLED_BACK,
)


@dataclass(frozen=True)
class Decision:
    approval: Approval
    message: str  # what to tell the person who clicked


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


def _snapshot(approval: Approval) -> dict[str, Any]:
    return {"state": approval.state.value, "params": approval.params, "decided_by": approval.decided_by}


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
        self._executors = executors
        self._lease = lease
        self._clock = clock

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
                after=_snapshot(approval),
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
        approval = await self._authorized(approval_id, actor, verb="approve")
        params = dict(approval.params)
        edited = amount_cents is not None and amount_cents != approval.params.get(AMOUNT)
        if edited:
            await self._check_amount(approval, actor, amount_cents)
            params[AMOUNT] = amount_cents
        decided = await self._decide_pending(
            approval,
            actor,
            to=ApprovalState.APPROVED,
            event="approved_with_changes" if edited else "approved",
            verb="approve",
            detail={"note": note} if note else None,
            decision_note=note,
            edited=edited,
            params=params,
        )
        executed = await self.execute(decided.id)
        return Decision(executed, outcome_message(executed, actor))

    async def deny(self, approval_id: str, actor: Actor, *, reason: str) -> Decision:
        if not reason.strip():
            raise NotAuthorized("a denial needs a reason")
        approval = await self._authorized(approval_id, actor, verb="deny")
        denied = await self._decide_pending(
            approval,
            actor,
            to=ApprovalState.DENIED,
            event="denied",
            verb="deny",
            detail={"reason": reason},
            decision_note=reason,
        )
        return Decision(denied, f"Denied by {actor.label}: {reason}")

    async def _decide_pending(
        self,
        approval: Approval,
        actor: Actor,
        *,
        to: ApprovalState,
        event: str,
        verb: str,
        detail: dict[str, Any] | None,
        **changes: Any,
    ) -> Approval:
        """pending → approved | denied in one conditional update, audited in the same transaction."""
        async with self._store.pool.connection() as conn, conn.transaction():
            decided = await self._store.transition(
                conn,
                approval.id,
                from_states=(ApprovalState.PENDING,),
                to=to,
                decided_by=actor.id,
                decided_at=self._clock(),  # every stamp of an approval on one clock (created_at, executed_at too)
                **changes,
            )
            if decided is not None:
                # both ends on this service's clock (it stamped `created_at`), so a replayed past reads right too
                waited = max(self._clock() - decided.created_at, timedelta(0))
                await audit.record(
                    conn,
                    event,
                    actor=actor,
                    workflow=approval.workflow,
                    org=approval.org,
                    subject=subject_of(approval),
                    decision_id=approval.decision_id,
                    before=_snapshot(approval),
                    after=_snapshot(decided),
                    detail={**(detail or {}), "waited_seconds": round(waited.total_seconds(), 3)},
                )
        if decided is None:  # someone else decided first; answered outside the transaction
            raise await self._lost_race(approval.id, actor, verb=verb)
        return decided

    async def _authorized(self, approval_id: str, actor: Actor, *, verb: str) -> Approval:
        approval = await self._store.get(approval_id)
        if approval is None:
            await refused(
                self._store, None, actor, verb=verb, reason=f"unknown approval {approval_id}", approval_id=approval_id
            )
            raise ApprovalNotFound(f"There is no approval {approval_id}.")
        reason = self.refusal_reason(approval, actor)
        if reason:
            await refused(self._store, approval, actor, verb=verb, reason=reason, approval_id=approval_id)
            raise NotAuthorized(reason)
        if approval.state is not ApprovalState.PENDING:
            raise await self._lost_race(approval.id, actor, verb=verb)
        if approval.expires_at <= self._clock():
            await refused(self._store, approval, actor, verb=verb, reason="expired", approval_id=approval_id)
            raise AlreadyDecided("This approval has expired; the case was handed to a person.")
        return approval

    def refusal_reason(self, approval: Approval, actor: Actor) -> str | None:
        return refusal_reason(self._policy.workflow(approval.workflow), approval, actor)

    async def _check_amount(self, approval: Approval, actor: Actor, amount: int | None) -> None:
        reason = amount_problem(self._policy.workflow(approval.workflow), approval, amount)
        if reason:
            await refused(self._store, approval, actor, verb="approve", reason=reason, approval_id=approval.id)
            raise NotAuthorized(reason)

    async def _lost_race(self, approval_id: str, actor: Actor, *, verb: str) -> AlreadyDecided:
        current = await self._store.get(approval_id)
        assert current is not None
        if current.state in _DECIDED:
            message = f"Already approved by {current.decided_by}."
        elif current.state is ApprovalState.DENIED:
            message = f"Already denied by {current.decided_by}: {current.decision_note}."
        else:
            message = f"This approval is {current.state.value}."
        await refused(self._store, current, actor, verb=verb, reason=message, approval_id=approval_id)
        return AlreadyDecided(message)

    # -- executing -----------------------------------------------------------------------------

    async def execute(self, approval_id: str) -> Approval:
        """Run an approved action once. A second caller, or a replay after a crash, never runs it twice:
        the claim is a conditional update and the executor deduplicates on the idempotency key."""
        async with self._store.pool.connection() as conn:
            claimed = await self._store.claim_for_execution(conn, approval_id, self._lease)
        if claimed is None:
            current = await self._store.get(approval_id)
            assert current is not None
            return current
        with tracer.start_as_current_span("execution") as span:
            span.set_attributes(
                {
                    "supportbot.approval.id": claimed.id,
                    "supportbot.action": claimed.action,
                    "supportbot.executor": self._executors.name_for(claimed.action) or "none",
                    "supportbot.attempt": claimed.attempts,
                    "supportbot.idempotency_key": claimed.idempotency_key,
                }
            )
            finished = await self._run_executor(claimed)
            span.set_attribute("supportbot.result", finished.state.value)
            if finished.state is ApprovalState.FAILED:
                span.set_status(trace.StatusCode.ERROR, finished.last_error)
        return finished

    async def _run_executor(self, claimed: Approval) -> Approval:
        request = ActionRequest(claimed.action, claimed.params, claimed.idempotency_key, claimed.org, claimed.id)
        try:
            executor = self._executors.for_action(claimed.action)
            result = await executor.execute(request)
        except (ExecutionFailed, UnknownAction) as exc:
            return await self._finish_failed(claimed, str(exc))
        except Exception as exc:  # a broken executor must not leave the approval in limbo
            log.exception("executor for %s crashed", claimed.action)
            return await self._finish_failed(claimed, f"executor error: {exc}")
        outcome = {
            "summary": result.summary,
            "data": result.data,
            "reverse_params": result.reverse_params,
            "replayed": result.replayed,
        }
        return await self._finish(
            claimed,
            ApprovalState.EXECUTED,
            "executed",
            after=outcome,
            detail={
                "attempts": claimed.attempts,
                "idempotency_key": claimed.idempotency_key,
                "executor": executor.name,
            },
            result=outcome,
            # on the service's clock, as the undo window that starts here is judged by it (and created_at is)
            executed_at=self._clock(),
            last_error=None,
        )

    async def _finish_failed(self, claimed: Approval, error: str) -> Approval:
        executor = self._executors.name_for(claimed.action)
        detail = {"error": error, "executor": executor, "attempts": claimed.attempts}
        return await self._finish(claimed, ApprovalState.FAILED, "execution_failed", detail=detail, last_error=error)

    async def _finish(
        self,
        claimed: Approval,
        to: ApprovalState,
        event: str,
        *,
        detail: dict[str, Any],
        after: Any = None,
        **changes: Any,
    ) -> Approval:
        """executing → executed | failed, audited in the same transaction. If another replica finished it
        after our lease ran out, its outcome stands and nothing is recorded twice."""
        async with self._store.pool.connection() as conn, conn.transaction():
            finished = await self._store.transition(
                conn, claimed.id, from_states=(ApprovalState.EXECUTING,), to=to, lease_until=None, **changes
            )
            if finished is None:
                current = await self._store.get(claimed.id, conn)
                assert current is not None
                return current
            await audit.record(
                conn,
                event,
                actor=SYSTEM,
                workflow=claimed.workflow,
                org=claimed.org,
                subject=subject_of(claimed),
                decision_id=claimed.decision_id,
                after=after,
                detail=detail,
            )
            if to is ApprovalState.EXECUTED and claimed.rollback_of:
                await self._mark_rolled_back(conn, claimed)
        return finished

    async def _mark_rolled_back(self, conn: Any, undo: Approval) -> None:
        assert undo.rollback_of is not None
        original = await self._store.transition(
            conn,
            undo.rollback_of,
            from_states=(ApprovalState.EXECUTED,),
            to=ApprovalState.ROLLED_BACK,
            rolled_back_at=self._clock(),
        )
        await audit.record(
            conn,
            "rolled_back",
            actor=undo.decided_by or SYSTEM.id,
            workflow=undo.workflow,
            org=undo.org,
            subject=("approval", undo.rollback_of),
            decision_id=undo.decision_id,
            before={"state": "executed"},
            after={"state": "rolled_back" if original else "unchanged", "undo": undo.id},
        )

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

    async def recover(self) -> list[Approval]:
        """At start-up: finish approvals left approved, or executing by a process that died."""
        return [await self.execute(approval_id) for approval_id in await self._store.recoverable()]
