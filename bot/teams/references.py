"""Conversation references in PostgreSQL: how to reach a Teams conversation again, proactively."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool


class ReferenceStore:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    async def save(self, conversation_key: str, reference: dict[str, Any], *, tenant_id: str | None) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO teams_conversations (conversation_key, tenant_id, reference) VALUES (%s, %s, %s) "
                "ON CONFLICT (conversation_key) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, "
                "reference = EXCLUDED.reference, updated_at = now()",
                (conversation_key, tenant_id, Jsonb(reference)),
            )

    async def get(self, conversation_key: str) -> dict[str, Any] | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT reference FROM teams_conversations WHERE conversation_key = %s", (conversation_key,)
            )
            row = await cur.fetchone()
            return dict(row[0]) if row else None
