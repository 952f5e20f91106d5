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

    async def remember_name(self, actor_id: str, name: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO teams_people (actor_id, name) VALUES (%s, %s) ON CONFLICT (actor_id) DO UPDATE "
                "SET name = EXCLUDED.name, updated_at = now() WHERE teams_people.name <> EXCLUDED.name",
                (actor_id, name),
            )

    async def name_of(self, actor_id: str | None) -> str | None:
        if not actor_id:
            return None
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT name FROM teams_people WHERE actor_id = %s", (actor_id,))
            row = await cur.fetchone()
            return str(row[0]) if row else None
