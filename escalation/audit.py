"""The append-only audit trail. This module only ever INSERTs and SELECTs audit rows.

Each row names the OpenTelemetry trace it was written in (the turn's, or the click's), so an operator can go
from any row to the trace. Listeners (the metrics) hear of each row as it is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opentelemetry import trace
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from escalation.models import Actor

log = logging.getLogger(__name__)

# escalation/ may import nothing of ours, so it cannot take knowledge.store.Pool: this is the same alias, defined
# once for escalation/ (its other modules import it from here).
Pool = AsyncConnectionPool[AsyncConnection[Any]]


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: datetime
    event: str
    actor: str
    actor_role: str | None
    workflow: str | None
    org: str | None
    subject_type: str | None
    subject_id: str | None
    decision_id: str | None
    before: Any
    after: Any
    detail: dict[str, Any]
    trace_id: str | None = None


_INSERT = """INSERT INTO audit_log
    (event, actor, actor_role, workflow, org, subject_type, subject_id, decision_id, before, after, detail, trace_id)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""

AuditListener = Callable[[str, str | None, dict[str, Any]], None]
"""Called with (event, workflow, detail) for every row written (inside the writer's transaction)."""
_listeners: list[AuditListener] = []


def add_listener(listener: AuditListener) -> None:
    """Hear of every audit row this process writes; adding the same listener twice adds it once."""
    if listener not in _listeners:
        _listeners.append(listener)


def _current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None


def _json(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


async def record(
    conn: AsyncConnection[Any],
    event: str,
    *,
    actor: Actor | str,
    workflow: str | None = None,
    org: str | None = None,
    subject: tuple[str, str] | None = None,
    decision_id: str | None = None,
    before: Any = None,
    after: Any = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit row on `conn`, inside the caller's transaction, so the change and its
    record commit or roll back together."""
    actor_id, role = (actor.id, actor.role.value) if isinstance(actor, Actor) else (actor, None)
    subject_type, subject_id = subject if subject else (None, None)
    await conn.execute(
        _INSERT,
        (
            event,
            actor_id,
            role,
            workflow,
            org,
            subject_type,
            subject_id,
            decision_id,
            _json(before),
            _json(after),
            Jsonb(detail or {}),
            _current_trace_id(),
        ),
    )
    for listener in _listeners:
        try:
            listener(event, workflow, detail or {})
        except Exception:  # counting must never undo what is being recorded
            log.exception("audit listener %r failed on %s", listener, event)


class AuditLog:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def record(self, event: str, *, actor: Actor | str, **fields: Any) -> None:
        async with self._pool.connection() as conn:
            await record(conn, event, actor=actor, **fields)

    async def events(
        self,
        *,
        since: datetime | None = None,
        workflow: str | None = None,
        subject: tuple[str, str] | None = None,
        limit: int = 10_000,
    ) -> list[AuditEvent]:
        conditions: list[str] = []
        params: list[Any] = []
        if since is not None:
            conditions.append("at >= %s")
            params.append(since)
        if workflow is not None:
            conditions.append("workflow = %s")
            params.append(workflow)
        if subject is not None:
            conditions.append("subject_type = %s AND subject_id = %s")
            params += list(subject)
        where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
        query = (
            "SELECT id, at, event, actor, actor_role, workflow, org, subject_type, subject_id, decision_id, "
            f"before, after, detail, trace_id FROM audit_log{where} ORDER BY at, id LIMIT %s"
        )
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(query.encode(), [*params, limit])).fetchall()
        return [AuditEvent(*row) for row in rows]


@dataclass(frozen=True)
class ExecutedAction:
    """An executed approval and the audit events recorded about it."""

    approval_id: str
    kind: str  # action | undo
    workflow: str
    action: str
    risk: str
    executed_at: datetime
    events: frozenset[str]


_EXECUTED_WITH_EVENTS = """
    SELECT a.id, a.kind, a.workflow, a.action, a.risk, a.executed_at,
           coalesce(array_agg(DISTINCT l.event) FILTER (WHERE l.event IS NOT NULL), '{}')
    FROM approvals a
    LEFT JOIN audit_log l ON l.subject_type = 'approval' AND l.subject_id = a.id
    WHERE a.executed_at >= %s AND a.risk = ANY(%s)
    GROUP BY a.id ORDER BY a.executed_at"""


async def executed_since(pool: Pool, since: datetime, *, risks: tuple[str, ...]) -> list[ExecutedAction]:
    """Approvals of these risks executed since `since`, each with the names of its audit events."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(_EXECUTED_WITH_EVENTS, (since, list(risks)))).fetchall()
    return [
        ExecutedAction(
            approval_id=row[0],
            kind=row[1],
            workflow=row[2],
            action=row[3],
            risk=row[4],
            executed_at=row[5],
            events=frozenset(row[6]),
        )
        for row in rows
    ]
