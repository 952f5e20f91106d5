"""Deciding an approval: who may approve or deny it, an approver's changed amount, and the one click that wins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from escalation import audit
from escalation.approval_audit import refused, snapshot, subject_of
from escalation.approvals_store import ApprovalStore
from escalation.authorization import amount_problem, refusal_reason
from escalation.errors import AlreadyDecided, ApprovalNotFound, NotAuthorized
from escalation.formatting import AMOUNT
from escalation.models import Actor, Approval, ApprovalState
from escalation.policy import Policy

_DECIDED = (
    ApprovalState.APPROVED,
    ApprovalState.EXECUTING,
    ApprovalState.EXECUTED,
    ApprovalState.FAILED,
    ApprovalState.ROLLED_BACK,
)


class ApprovalDecisions:
    """pending → approved or denied, for whoever may decide. Running an approved action is the caller's next step."""

    def __init__(self, store: ApprovalStore, policy: Policy, *, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock

    async def approve(
        self, approval_id: str, actor: Actor, *, amount_cents: int | None = None, note: str | None = None
    ) -> Approval:
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
        return decided

    async def deny(self, approval_id: str, actor: Actor, *, reason: str) -> Approval:
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
        return denied

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
                    before=snapshot(approval),
                    after=snapshot(decided),
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
