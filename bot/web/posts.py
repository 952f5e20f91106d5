"""The web platform's channels in PostgreSQL: what was said in each playground conversation and in the web
staff channel (table `web_posts`, migration 0017). Writing a post notifies every open page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from knowledge.store import Pool

STAFF = "staff"
HISTORY = 200  # posts a pane shows when it opens


@dataclass(frozen=True)
class Post:
    id: int
    channel: str
    kind: str  # message | reply | approval | handoff | note
    subject: str | None
    author: str | None
    body: dict[str, Any]
    created_at: datetime


_COLUMNS = "id, channel, kind, subject, author, body, created_at"


class WebPosts:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def add(
        self,
        channel: str,
        kind: str,
        body: dict[str, Any],
        *,
        subject: str | None = None,
        author: str | None = None,
        delivery: str | None = None,
    ) -> bool:
        """False when `delivery` was posted before (a re-run of a turn, a form sent twice)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO web_posts (channel, kind, subject, author, body, delivery) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (delivery) DO NOTHING RETURNING id",
                (channel, kind, subject, author, Jsonb(body), delivery),
            )
            return await cur.fetchone() is not None

    async def posted(self, delivery: str) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT 1 FROM web_posts WHERE delivery = %s", (delivery,))
            return await cur.fetchone() is not None

    async def recent(self, channels: Sequence[str], *, limit: int = HISTORY) -> list[Post]:
        """The last `limit` posts of each channel, oldest first."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM (SELECT *, row_number() OVER (PARTITION BY channel ORDER BY id DESC) AS n "
                "FROM web_posts WHERE channel = ANY(%s)) recent WHERE n <= %s ORDER BY id",
                (list(channels), limit),
            )
            return [Post(*row) for row in await cur.fetchall()]

    async def after(self, channels: Sequence[str], after_id: int, *, limit: int = HISTORY) -> list[Post]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM web_posts WHERE channel = ANY(%s) AND id > %s ORDER BY id LIMIT %s",
                (list(channels), after_id, limit),
            )
            return [Post(*row) for row in await cur.fetchall()]

    async def forget(self, *, older_than_days: int, limit: int = 5000) -> int:
        """Posts past the retention (INBOUND_RETENTION_DAYS, like the inbound events they answered) are deleted."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM web_posts WHERE id IN (SELECT id FROM web_posts "
                "WHERE created_at < clock_timestamp() - make_interval(days => %s) ORDER BY id LIMIT %s)",
                (older_than_days, limit),
            )
            return cur.rowcount

    async def first_of(self, subject: str) -> Post | None:
        """A card's first post: what it was posted with (the reason a human must decide)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM web_posts WHERE subject = %s ORDER BY id LIMIT 1", (subject,)
            )
            row = await cur.fetchone()
        return Post(*row) if row else None
