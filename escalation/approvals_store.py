"""SQL for approvals. Every state change is one conditional UPDATE: concurrent clicks cannot both win."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, LiteralString

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from escalation.audit import Pool
from escalation.models import POLICY_AUTO, Approval, ApprovalState, ProposedAction, Risk

_COLUMNS: LiteralString = (
    "id, kind, workflow, action, params, proposed_params, org, conversation_key, decision_id, requested_by, risk, "
    "rule, state, decided_by, decided_at, decision_note, edited, expires_at, idempotency_key, attempts, last_error, "
    "result, executed_at, rollback_of, rolled_back_at, created_at, version, request_text, input_sources"
)


def _approval(row: tuple[Any, ...]) -> Approval:
    values = list(row)
    values[10] = Risk(values[10])
    values[12] = ApprovalState(values[12])
    return Approval(*values)


def new_approval_id() -> str:
    return "apr_" + secrets.token_hex(6)


class ApprovalStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def insert(
        self,
        conn: AsyncConnection[Any],
        proposal: ProposedAction,
        *,
        risk: Risk,
        rule: str,
        state: ApprovalState,
        expires_at: datetime,
        kind: str = "action",
        rollback_of: str | None = None,
        decided_by: str | None = None,
        now: datetime,
    ) -> Approval:
        approval_id = new_approval_id()
        cur = await conn.execute(
            f"""INSERT INTO approvals (id, kind, workflow, action, params, proposed_params, org, conversation_key,
                    decision_id, requested_by, risk, rule, state, expires_at, idempotency_key, rollback_of,
                    decided_by, decided_at, created_at, request_text, input_sources)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                        CASE WHEN %s::text IS NULL THEN NULL ELSE %s END, %s, %s, %s)
                RETURNING {_COLUMNS}""".encode(),
            (
                approval_id,
                kind,
                proposal.workflow,
                proposal.action,
                Jsonb(proposal.params),
                Jsonb(proposal.params),
                proposal.org,
                proposal.conversation_key,
                proposal.decision_id,
                proposal.requested_by,
                risk.value,
                rule,
                state.value,
                expires_at,
                f"{approval_id}:{proposal.action}",
                rollback_of,
                decided_by,
                decided_by,
                now,
                now,
                proposal.request_text,
                Jsonb(proposal.input_sources),
            ),
        )
        row = await cur.fetchone()
        assert row is not None
        return _approval(row)

    async def get(self, approval_id: str, conn: AsyncConnection[Any] | None = None) -> Approval | None:
        query = f"SELECT {_COLUMNS} FROM approvals WHERE id = %s".encode()
        if conn is not None:
            row = await (await conn.execute(query, (approval_id,))).fetchone()
        else:
            async with self.pool.connection() as own:
                row = await (await own.execute(query, (approval_id,))).fetchone()
        return _approval(row) if row else None

    async def lock_for_undo(self, conn: AsyncConnection[Any], approval_id: str) -> tuple[str | None, str | None]:
        """The action's state now and the id of its undo still waiting, approved or running (if any). The
        action's row stays locked until the transaction ends, so two undo requests at once take turns, and one
        made while an undo finishes sees the action rolled back."""
        state = await (
            await conn.execute(b"SELECT state FROM approvals WHERE id = %s FOR UPDATE", (approval_id,))
        ).fetchone()
        waiting = await (
            await conn.execute(
                b"SELECT id FROM approvals WHERE rollback_of = %s AND state IN ('pending', 'approved', 'executing') "
                b"ORDER BY created_at LIMIT 1",
                (approval_id,),
            )
        ).fetchone()
        return (str(state[0]) if state else None), (str(waiting[0]) if waiting else None)

    async def transition(
        self,
        conn: AsyncConnection[Any],
        approval_id: str,
        *,
        from_states: tuple[ApprovalState, ...],
        to: ApprovalState,
        **changes: Any,
    ) -> Approval | None:
        """Move to `to` only if the row is still in one of `from_states`; None if another writer won."""
        assignments = [
            sql.SQL("state = {}").format(sql.Literal(to.value)),
            sql.SQL("updated_at = now()"),
            sql.SQL("version = version + 1"),
        ]
        params: list[Any] = []
        for column, value in changes.items():
            if value is _NOW:
                assignments.append(sql.SQL("{} = now()").format(sql.Identifier(column)))
            else:
                assignments.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
                params.append(Jsonb(value) if isinstance(value, dict) else value)
        params += [approval_id, [state.value for state in from_states]]
        query = sql.SQL("UPDATE approvals SET {} WHERE id = %s AND state = ANY(%s) RETURNING " + _COLUMNS).format(
            sql.SQL(", ").join(assignments)
        )
        row = await (await conn.execute(query, params)).fetchone()
        return _approval(row) if row else None

    async def claim_for_execution(
        self, conn: AsyncConnection[Any], approval_id: str, lease: timedelta
    ) -> Approval | None:
        """approved → executing, or take over an execution whose lease ran out (its process died)."""
        cur = await conn.execute(
            f"""UPDATE approvals SET state = 'executing', attempts = attempts + 1, lease_until = now() + %s,
                    updated_at = now(), version = version + 1
                WHERE id = %s AND (state = 'approved' OR (state = 'executing' AND lease_until < now()))
                RETURNING {_COLUMNS}""".encode(),
            (lease, approval_id),
        )
        row = await cur.fetchone()
        return _approval(row) if row else None

    async def ids_where(self, condition: str, params: tuple[Any, ...] = ()) -> list[str]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(f"SELECT id FROM approvals WHERE {condition} ORDER BY created_at".encode(), params)
            ).fetchall()
        return [row[0] for row in rows]

    async def recoverable(self) -> list[str]:
        return await self.ids_where("state = 'approved' OR (state = 'executing' AND lease_until < now())")

    async def expirable(self, now: datetime) -> list[str]:
        return await self.ids_where("state = 'pending' AND expires_at <= %s", (now,))

    async def needing_reminder(self, now: datetime, before: timedelta) -> list[str]:
        return await self.ids_where(
            "state = 'pending' AND reminded_at IS NULL AND expires_at > %s AND expires_at - %s <= %s",
            (now, before, now),
        )

    async def auto_actions_since(self, workflow: str, org: str | None, since: datetime) -> int:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT count(*) FROM approvals WHERE workflow = %s AND org IS NOT DISTINCT FROM %s "
                    "AND decided_by = %s AND created_at >= %s",
                    (workflow, org, POLICY_AUTO, since),
                )
            ).fetchone()
        return int(row[0]) if row else 0

    async def list(self, *, states: tuple[ApprovalState, ...] | None = None, limit: int = 200) -> list[Approval]:
        where = "WHERE state = ANY(%s)" if states else ""
        params: tuple[Any, ...] = ([s.value for s in states], limit) if states else (limit,)
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM approvals {where} ORDER BY created_at DESC LIMIT %s".encode(), params
                )
            ).fetchall()
        return [_approval(row) for row in rows]


class _Now:
    """Marker: set this column to the database's now()."""


_NOW = _Now()
NOW: Any = _NOW
