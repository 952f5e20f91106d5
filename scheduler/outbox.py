"""Notices produced by jobs, kept in PostgreSQL until a chat adapter delivers them."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from scheduler.slots import Pool


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
