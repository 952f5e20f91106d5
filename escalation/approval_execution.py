"""Running an approved action exactly once: the claim, the executor, the outcome audited with it, and an undo
marking the action it reversed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from opentelemetry import trace

from escalation import audit
from escalation.approval_audit import subject_of
from escalation.approvals_store import ApprovalStore
from escalation.errors import ExecutionFailed, UnknownAction
from escalation.executors import ActionRequest, ExecutorRegistry
from escalation.models import SYSTEM, Approval, ApprovalState

log = logging.getLogger(__name__)
tracer = trace.get_tracer("supportbot.escalation")


class ApprovalExecution:
    def __init__(
        self, store: ApprovalStore, executors: ExecutorRegistry, *, lease: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._executors = executors
        self._lease = lease
        self._clock = clock

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
