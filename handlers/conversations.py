"""Conversation state: turns, the active workflow and the inputs gathered so far, and who owns it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from knowledge.store import Pool

BOT = "bot"


@dataclass
class Conversation:
    key: str
    platform: str
    org: str | None
    owner: str = BOT
    active_workflow: str | None = None
    gathered: dict[str, Any] = field(default_factory=dict)
    asked_for: str | None = None

    @property
    def bot_may_speak(self) -> bool:
        return self.owner == BOT


class ConversationStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def load(self, key: str, *, platform: str, org: str | None) -> Conversation:
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO conversations (key, platform, org) VALUES (%s, %s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET updated_at = now() "
                    "RETURNING key, platform, org, owner, active_workflow, gathered, asked_for",
                    (key, platform, org),
                )
            ).fetchone()
        assert row is not None
        return Conversation(*row)

    async def save(self, conversation: Conversation) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE conversations SET owner = %s, active_workflow = %s, gathered = %s, asked_for = %s, "
                "updated_at = now() WHERE key = %s",
                (
                    conversation.owner,
                    conversation.active_workflow,
                    Jsonb(conversation.gathered),
                    conversation.asked_for,
                    conversation.key,
                ),
            )

    async def set_owner(self, key: str, owner: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("UPDATE conversations SET owner = %s, updated_at = now() WHERE key = %s", (owner, key))

    async def add_turn(self, key: str, *, role: str, author: str, text: str, decision_id: str | None) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO turns (conversation_key, role, author, text, decision_id) VALUES (%s, %s, %s, %s, %s)",
                (key, role, author, text, decision_id),
            )

    async def has_turn(self, decision_id: str) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT 1 FROM turns WHERE decision_id = %s LIMIT 1", (decision_id,))
            return await cur.fetchone() is not None

    async def customer_texts(self, key: str, *, limit: int = 200) -> list[str]:
        """What customers wrote in this conversation, oldest first (never the bot's or staff's turns)."""
        async with self._pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT text FROM turns WHERE conversation_key = %s AND role = 'customer' "
                    "ORDER BY id DESC LIMIT %s",
                    (key, limit),
                )
            ).fetchall()
        return [row[0] for row in reversed(rows)]

    async def recent_turns(self, key: str, *, limit: int = 10) -> list[tuple[str, str, str]]:
        """(role, author, text), oldest first."""
        async with self._pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT role, author, text FROM turns WHERE conversation_key = %s ORDER BY id DESC LIMIT %s",
                    (key, limit),
                )
            ).fetchall()
        return [(row[0], row[1], row[2]) for row in reversed(rows)]
