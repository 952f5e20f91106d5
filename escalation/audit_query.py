"""Reading the audit trail by any of its fields, newest first, a page at a time (the console's audit page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from escalation.audit import AuditEvent, Pool

_COLUMNS = (
    "id, at, event, actor, actor_role, workflow, org, subject_type, subject_id, decision_id, before, after, detail, "
    "trace_id"
)


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    event: str | None = None
    actor: str | None = None
    workflow: str | None = None
    org: str | None = None
    decision_id: str | None = None  # rows of this decision, and of the approvals and hand-offs it opened
    subject: str | None = None  # an approval or hand-off id
    limit: int = 100
    offset: int = 0


def _where(chosen: AuditFilter) -> tuple[str, list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("event", chosen.event),
        ("actor", chosen.actor),
        ("workflow", chosen.workflow),
        ("org", chosen.org),
        ("subject_id", chosen.subject),
    ):
        if value:
            conditions.append(f"{column} = %s")
            params.append(value)
    if chosen.decision_id:
        conditions.append(
            "(decision_id = %s OR (subject_type = 'approval' AND subject_id IN "
            "(SELECT id FROM approvals WHERE decision_id = %s)))"
        )
        params += [chosen.decision_id, chosen.decision_id]
    if chosen.since is not None:
        conditions.append("at >= %s")
        params.append(chosen.since)
    if chosen.until is not None:
        conditions.append("at < %s")
        params.append(chosen.until)
    return (" WHERE " + " AND ".join(conditions)) if conditions else "", params


class AuditQuery:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def search(self, chosen: AuditFilter) -> tuple[list[AuditEvent], int]:
        """One page of matching rows, newest first, and how many match in all."""
        where, params = _where(chosen)
        query = (
            f"SELECT {_COLUMNS}, count(*) OVER () FROM audit_log{where} ORDER BY at DESC, id DESC LIMIT %s OFFSET %s"
        )
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(query.encode(), [*params, chosen.limit, chosen.offset])).fetchall()
        total = int(rows[0][-1]) if rows else 0
        return [AuditEvent(*row[:-1]) for row in rows], total

    async def events(self) -> list[str]:
        """The kinds of rows there are, for a filter."""
        async with self._pool.connection() as conn:
            rows = await (await conn.execute("SELECT DISTINCT event FROM audit_log ORDER BY 1")).fetchall()
        return [row[0] for row in rows]
