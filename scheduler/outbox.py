"""Notices produced by jobs, kept in PostgreSQL until a chat adapter delivers them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from knowledge.store import Pool

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def add(
        self,
        *,
        kind: str,
        text: str,
        source: str,
        conversation_key: str | None = None,
        recipient: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO outbox (kind, conversation_key, recipient, text, payload, source) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (kind, conversation_key, recipient, text, Jsonb(payload or {}), source),
            )

    async def pending(self, *, limit: int = 100) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, kind, conversation_key, recipient, text, payload, source, created_at FROM outbox "
                "WHERE delivered_at IS NULL ORDER BY id LIMIT %s",
                (limit,),
            )
            columns = [column.name for column in cur.description or []]
            return [dict(zip(columns, row, strict=True)) for row in await cur.fetchall()]

    async def undelivered(self, platform: str, *, limit: int = 50, max_attempts: int = 5) -> list[dict[str, Any]]:
        """Notices this platform still owes (see `_OWED`)."""
        async with self._pool.connection() as conn:
            return await _owed(conn, platform, limit=limit, max_attempts=max_attempts, lock=False)

    async def drain(
        self,
        platform: str,
        deliver: Callable[[dict[str, Any]], Awaitable[object]],
        *,
        limit: int = 50,
        max_attempts: int = 5,
    ) -> int:
        """Hand each owed notice to `deliver` and record the outcome; returns how many were delivered.

        The notices stay row-locked until their outcomes are recorded, so replicas draining at once
        skip each other's and never post one twice. A notice `deliver` raises on is marked failed and
        retried on later passes, up to `max_attempts`; one failing never stops the others."""
        delivered = 0
        async with self._pool.connection() as conn, conn.transaction():
            for notice in await _owed(conn, platform, limit=limit, max_attempts=max_attempts, lock=True):
                try:
                    await deliver(notice)
                except Exception as exc:  # whatever the platform said is the recorded reason
                    log.warning("outbox notice %s not delivered to %s: %s", notice["id"], platform, exc)
                    await _mark(conn, notice["id"], platform, delivered=False, error=str(exc)[:500])
                else:
                    await _mark(conn, notice["id"], platform, delivered=True)
                    delivered += 1
        return delivered

    async def mark(self, outbox_id: int, platform: str, *, delivered: bool, error: str | None = None) -> None:
        async with self._pool.connection() as conn:
            await _mark(conn, outbox_id, platform, delivered=delivered, error=error)

    async def failures(self, *, since: Any = None) -> list[dict[str, Any]]:
        """Notices a platform gave up on (for the digest and `supportbot` operators)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT o.id, o.kind, o.conversation_key, o.text, d.platform, d.attempts, d.last_error, d.updated_at "
                "FROM outbox_deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE d.state = 'failed' "
                "AND (%(since)s::timestamptz IS NULL OR d.updated_at >= %(since)s) ORDER BY d.updated_at",
                {"since": since},
            )
            columns = [column.name for column in cur.description or []]
            return [dict(zip(columns, row, strict=True)) for row in await cur.fetchall()]


# A platform owes its own conversations' notices and every staff-wide one; a notice whose payload
# names a `platform` belongs to that platform only. Digests are not notices: their publishers post
# them, and the row is their record.
_OWED = (
    "SELECT o.id, o.kind, o.conversation_key, o.recipient, o.text, o.payload, o.source, o.created_at, "
    "COALESCE(d.attempts, 0) AS attempts FROM outbox o "
    "LEFT JOIN outbox_deliveries d ON d.outbox_id = o.id AND d.platform = %(p)s "
    "WHERE o.delivered_at IS NULL AND (d.state IS NULL OR (d.state = 'failed' AND d.attempts < %(max)s)) "
    "AND (o.conversation_key IS NULL OR o.conversation_key LIKE %(prefix)s) "
    "AND COALESCE(o.payload->>'platform', %(p)s) = %(p)s "
    "AND o.kind <> 'digest' "
    "ORDER BY o.id LIMIT %(limit)s"
)


async def _owed(
    conn: AsyncConnection[Any], platform: str, *, limit: int, max_attempts: int, lock: bool
) -> list[dict[str, Any]]:
    query = _OWED + (" FOR UPDATE OF o SKIP LOCKED" if lock else "")
    cur = await conn.execute(
        query.encode(), {"p": platform, "max": max_attempts, "prefix": f"{platform}:%", "limit": limit}
    )
    columns = [column.name for column in cur.description or []]
    return [dict(zip(columns, row, strict=True)) for row in await cur.fetchall()]


async def _mark(
    conn: AsyncConnection[Any], outbox_id: int, platform: str, *, delivered: bool, error: str | None = None
) -> None:
    await conn.execute(
        "INSERT INTO outbox_deliveries (outbox_id, platform, state, last_error) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (outbox_id, platform) DO UPDATE SET state = EXCLUDED.state, "
        "attempts = outbox_deliveries.attempts + 1, last_error = EXCLUDED.last_error, updated_at = now()",
        (outbox_id, platform, "delivered" if delivered else "failed", error),
    )
