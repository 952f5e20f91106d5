"""SQL for demo rows: re-dating what one scripted step stamped, counting them, and removing them all.

A row is demo data when it belongs to a conversation whose key starts with 'demo:' (the `demo` columns of
migration 0018, derived from the key); feedback belongs to its decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from psycopg import AsyncConnection, sql

from knowledge.store import Pool

_DEMO_FEEDBACK: LiteralString = "decision_id IN (SELECT id FROM decisions WHERE demo)"

# Every timestamp the database stamps with now() on these tables. Deadlines the escalation clock sets
# (approvals.expires_at) are not here: they are already in the script's time.
STAMPED: tuple[tuple[LiteralString, LiteralString, tuple[LiteralString, ...]], ...] = (
    ("conversations", "demo", ("created_at", "updated_at")),
    ("turns", "demo", ("at",)),
    ("decisions", "demo", ("created_at", "updated_at")),
    ("feedback", _DEMO_FEEDBACK, ("at",)),
    (
        "approvals",
        "demo",
        ("created_at", "updated_at", "decided_at", "executed_at", "rolled_back_at", "reminded_at", "lease_until"),
    ),
    ("handoffs", "demo", ("created_at", "updated_at", "claimed_at", "closed_at", "escalated_at")),
    ("audit_log", "demo", ("at",)),
    ("kb_gaps", "demo", ("created_at",)),
    ("outbox", "demo", ("created_at", "delivered_at")),
)


def _shift_query(table: LiteralString, where: LiteralString, columns: tuple[LiteralString, ...]) -> sql.Composed:
    moved = [
        sql.SQL("{c} = CASE WHEN {c} >= %(since)s THEN {c} - %(back)s ELSE {c} END").format(c=sql.Identifier(c))
        for c in columns
    ]
    touched = [sql.SQL("{c} >= %(since)s").format(c=sql.Identifier(c)) for c in columns]
    return sql.SQL("UPDATE {table} SET {moved} WHERE {where} AND ({touched})").format(
        table=sql.Identifier(table),
        moved=sql.SQL(", ").join(moved),
        where=sql.SQL(where),
        touched=sql.SQL(" OR ").join(touched),
    )


_SHIFTS = [_shift_query(table, where, columns) for table, where, columns in STAMPED]


@dataclass(frozen=True)
class DemoCounts:
    conversations: int
    decisions: int
    approvals: int
    handoffs: int
    audit_rows: int

    @property
    def empty(self) -> bool:
        return not (self.conversations or self.decisions or self.approvals or self.handoffs or self.audit_rows)


class DemoRows:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def database_now(self) -> datetime:
        """The database's clock, read before a step: whatever the step stamps is at or after it."""
        async with self._pool.connection() as conn:
            row = await (await conn.execute("SELECT clock_timestamp()")).fetchone()
        assert row is not None
        moment: datetime = row[0]
        return moment

    async def redate(self, *, since: datetime, to: datetime) -> None:
        """Move every demo timestamp stamped at or after `since` back by `since - to`: what a step wrote
        now lands at the step's moment in the script, in the order it was written."""
        params = {"since": since, "back": since - to}
        async with self._pool.connection() as conn, conn.transaction(), conn.pipeline():  # one round trip
            for query in _SHIFTS:
                await conn.execute(query, params)

    async def counts(self) -> DemoCounts:
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT (SELECT count(*) FROM conversations WHERE demo),"
                    " (SELECT count(*) FROM decisions WHERE demo), (SELECT count(*) FROM approvals WHERE demo),"
                    " (SELECT count(*) FROM handoffs WHERE demo), (SELECT count(*) FROM audit_log WHERE demo)"
                )
            ).fetchone()
        assert row is not None
        return DemoCounts(*(int(n) for n in row))

    async def clear(self) -> tuple[DemoCounts, list[str]]:
        """Delete every demo row in one transaction; returns what was there and the idempotency keys of the
        demo's approvals, whose effects in the demo back end the caller removes."""
        before = await self.counts()
        async with self._pool.connection() as conn, conn.transaction():
            keys = [
                row[0]
                for row in await (await conn.execute("SELECT idempotency_key FROM approvals WHERE demo")).fetchall()
            ]
            await _delete(conn, "DELETE FROM feedback WHERE " + _DEMO_FEEDBACK)
            await _delete(conn, "DELETE FROM outbox_deliveries WHERE outbox_id IN (SELECT id FROM outbox WHERE demo)")
            for table in ("outbox", "handoffs"):
                await _delete(conn, sql.SQL("DELETE FROM {} WHERE demo").format(sql.Identifier(table)))
            # an undo approval points at the approval it undoes
            await _delete(conn, "DELETE FROM approvals WHERE demo AND rollback_of IS NOT NULL")
            for table in ("approvals", "decisions", "turns", "conversations", "kb_gaps", "audit_log"):
                await _delete(conn, sql.SQL("DELETE FROM {} WHERE demo").format(sql.Identifier(table)))
        return before, keys


async def _delete(conn: AsyncConnection[Any], query: LiteralString | sql.Composed) -> None:
    await conn.execute(query)
