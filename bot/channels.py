"""What the chat adapters keep in PostgreSQL: channel → org bindings (and the rule for an org's name), posted cards,
seen events."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

# what a channel may be bound to, from Slack's `/support connect ORG` or `supportbot channels bind`; bind stores it
# lowercased, so the rule is checked on the lowercased name
_ORG_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def is_org_name(name: str) -> bool:
    return _ORG_NAME.match(name.lower()) is not None


@dataclass(frozen=True)
class Binding:
    platform: str
    channel_id: str
    org: str
    bound_by: str
    bound_at: datetime


@dataclass(frozen=True)
class CardRef:
    item_id: str
    platform: str
    channel_id: str
    message_ref: str
    reference: dict[str, Any]


class ChannelStore:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    async def bind(self, platform: str, channel_id: str, org: str, *, bound_by: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO channel_bindings (platform, channel_id, org, bound_by) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (platform, channel_id) DO UPDATE SET org = EXCLUDED.org, "
                "bound_by = EXCLUDED.bound_by, bound_at = now()",
                (platform, channel_id, org.lower(), bound_by),
            )

    async def unbind(self, platform: str, channel_id: str) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM channel_bindings WHERE platform = %s AND channel_id = %s", (platform, channel_id)
            )
            return bool(cur.rowcount > 0)

    async def org_for(self, platform: str, channel_id: str) -> str | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT org FROM channel_bindings WHERE platform = %s AND channel_id = %s", (platform, channel_id)
            )
            row = await cur.fetchone()
            return str(row[0]) if row else None

    async def bindings(self, platform: str | None = None) -> list[Binding]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT platform, channel_id, org, bound_by, bound_at FROM channel_bindings "
                "WHERE %(p)s::text IS NULL OR platform = %(p)s ORDER BY platform, org, channel_id",
                {"p": platform},
            )
            return [Binding(*row) for row in await cur.fetchall()]

    async def first_time(self, platform: str, key: str) -> bool:
        """True exactly once per (platform, key), across processes: event de-duplication and one-off notices."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO seen_events (platform, event_key) VALUES (%s, %s) ON CONFLICT DO NOTHING", (platform, key)
            )
            return bool(cur.rowcount == 1)

    async def save_card(
        self,
        item_id: str,
        platform: str,
        *,
        channel_id: str,
        message_ref: str,
        reference: dict[str, Any] | None = None,
        version: int = 0,
    ) -> None:
        """Remember a posted card and the version of its item it shows (0: not versioned, e.g. hand-offs)."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO chat_cards (item_id, platform, channel_id, message_ref, reference, rendered_version) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (item_id, platform) DO UPDATE SET "
                "channel_id = EXCLUDED.channel_id, message_ref = EXCLUDED.message_ref, reference = EXCLUDED.reference, "
                "rendered_version = EXCLUDED.rendered_version",
                (item_id, platform, channel_id, message_ref, Jsonb(reference or {}), version),
            )

    @asynccontextmanager
    async def showing(self, item_id: str, platform: str, *, version: int) -> AsyncIterator[CardRef | None]:
        """Claim the right to show `version` of an item on its card: yields the card when `version` is newer
        than the one it shows (None otherwise), and records it in the same statement (compare-and-set).

        The row stays locked until the block ends, so a writer of an older version waits, then finds the newer
        one recorded and writes nothing: a card never goes back to an earlier state, whichever process writes.
        If the block raises (the platform refused the update), nothing is recorded and a later refresh retries."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "UPDATE chat_cards SET rendered_version = %s "
                "WHERE item_id = %s AND platform = %s AND rendered_version < %s "
                "RETURNING item_id, platform, channel_id, message_ref, reference",
                (version, item_id, platform, version),
            )
            row = await cur.fetchone()
            yield CardRef(*row) if row else None

    async def card(self, item_id: str, platform: str) -> CardRef | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT item_id, platform, channel_id, message_ref, reference FROM chat_cards "
                "WHERE item_id = %s AND platform = %s",
                (item_id, platform),
            )
            row = await cur.fetchone()
            return CardRef(*row) if row else None
