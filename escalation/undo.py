"""Undo: the declared rollback of an executed action, requested by staff and itself approved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from escalation import audit
from escalation.approval_audit import refused, subject_of
from escalation.approvals_store import ApprovalStore
from escalation.errors import ApprovalNotFound, NotAuthorized
from escalation.models import Actor, Approval, ApprovalState, ProposedAction, Role
from escalation.policy import Policy


class UndoRequests:
    def __init__(self, store: ApprovalStore, policy: Policy, *, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock

    async def request_undo(self, approval_id: str, actor: Actor) -> Approval:
        """Ask for the declared rollback of an executed action; the undo is itself approved."""
        original = await self._store.get(approval_id)
        if original is None:
            raise ApprovalNotFound(f"There is no approval {approval_id}.")
        if actor.role is Role.CUSTOMER:
            await refused(
                self._store,
                original,
                actor,
                verb="undo",
                reason="customers cannot undo actions",
                approval_id=approval_id,
            )
            raise NotAuthorized("Customers cannot undo actions.")
        workflow = self._policy.workflow(original.workflow)
        reverse = (original.result or {}).get("reverse_params")
        problem = None
        if original.state is not ApprovalState.EXECUTED or original.executed_at is None:
            problem = _not_executed(original.state)
        elif workflow is None or workflow.rollback is None or reverse is None:
            problem = f"{original.workflow} declares no rollback for this action."
        elif original.executed_at + self._policy.undo_window_for(original.workflow) < self._clock():
            problem = "The undo window for this action has closed."
        if problem:
            await refused(self._store, original, actor, verb="undo", reason=problem, approval_id=approval_id)
            raise NotAuthorized(problem)
        assert workflow is not None and workflow.rollback is not None and reverse is not None
        proposal = ProposedAction(
            workflow=original.workflow,
            action=workflow.rollback,
            params=reverse,
            requested_by=actor.id,
            org=original.org,
            conversation_key=original.conversation_key,
            decision_id=original.decision_id,
        )
        async with self._store.pool.connection() as conn, conn.transaction():
            # one undo at a time: two approved undos of one refund would run the reversal twice
            state, waiting = await self._store.lock_for_undo(conn, original.id)
            if waiting is not None:
                problem = f"An undo of this action is already waiting: {waiting}."
            elif state != ApprovalState.EXECUTED:
                problem = _not_executed(state)
            else:
                undo = await self._store.insert(
                    conn,
                    proposal,
                    risk=original.risk,
                    rule="undo_requested",
                    state=ApprovalState.PENDING,
                    expires_at=self._clock() + self._policy.expiry_for(original.workflow),
                    kind="undo",
                    rollback_of=original.id,
                    now=self._clock(),
                )
                await audit.record(
                    conn,
                    "rollback_requested",
                    actor=actor,
                    workflow=original.workflow,
                    org=original.org,
                    subject=subject_of(undo),
                    decision_id=original.decision_id,
                    detail={"undoes": original.id, "action": workflow.rollback, "params": reverse},
                )
                return undo
        await refused(self._store, original, actor, verb="undo", reason=problem, approval_id=approval_id)
        raise NotAuthorized(problem)


def _not_executed(state: str | None) -> str:
    return f"Only an executed action can be undone; this one is {state}."
