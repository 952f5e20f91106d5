"""The inbound event ledger in PostgreSQL: stored before the ack, run by a queued job, finished once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from handlers.turns import QueuedTurn
from knowledge.store import Pool

DEFAULT_QUEUE = "turns"
TURN_TASK = "supportbot.turn"

# One statement, one transaction: the event and the job that runs it exist together or not at all. The
# job is deferred through procrastinate's own versioned SQL function (what its `defer_async` calls), with
# the conversation as its lock so one conversation's turns run one after another.
_ACCEPT = b"""
WITH event AS (
    INSERT INTO inbound_events (platform, event_key, conversation_key, payload, queue, sent_at, traceparent)
    VALUES (%(platform)s, %(event_key)s, %(conversation_key)s, %(payload)s, %(queue)s,
            coalesce(%(sent_at)s, clock_timestamp()), %(traceparent)s)
    ON CONFLICT (platform, event_key) DO NOTHING
    RETURNING id, conversation_key
), job AS (
    SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(
        %(queue)s, %(task)s, 0, event.conversation_key, NULL, jsonb_build_object('event_id', event.id), NULL
    )::procrastinate_job_to_defer_v1]) AS ids
    FROM event
)
SELECT event.id FROM event, job
"""

_COLUMNS = "id, platform, event_key, conversation_key, payload, state, outbound, attempts, traceparent, received_at"
_NEXT = """
SELECT e.id FROM inbound_events mine
JOIN inbound_events e ON e.platform = mine.platform AND e.conversation_key = mine.conversation_key
WHERE mine.id = %s AND e.state <> 'done'
ORDER BY e.sent_at, e.id LIMIT 1
"""
_BEGIN = f"UPDATE inbound_events SET attempts = attempts + 1 WHERE id = ({_NEXT}) RETURNING {_COLUMNS}".encode()
# seconds since the conversation's newest event was stored
_QUIET = (
    b"SELECT extract(epoch FROM clock_timestamp() - max(e.received_at)) FROM inbound_events mine "
    b"JOIN inbound_events e ON e.platform = mine.platform AND e.conversation_key = mine.conversation_key "
    b"WHERE mine.id = %s"
)


class InboundStore:
    def __init__(self, pool: Pool, *, queue: str = DEFAULT_QUEUE) -> None:
        self._pool = pool
        self.queue = queue  # the procrastinate queue its turns go to (TURN_QUEUE)

    async def accept(
        self,
        platform: str,
        event_key: str,
        *,
        conversation_key: str,
        payload: dict[str, Any],
        sent_at: datetime | None = None,
        traceparent: str | None = None,
    ) -> int | None:
        """Store and queue an event; its id, or None when this (platform, event_key) was stored before.
        `traceparent`: the trace of the request that brought it, which its turn continues."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                _ACCEPT,
                {
                    "platform": platform,
                    "event_key": event_key,
                    "conversation_key": conversation_key,
                    "payload": Jsonb(payload),
                    "sent_at": sent_at,
                    "queue": self.queue,
                    "task": TURN_TASK,
                    "traceparent": traceparent,
                },
            )
            row = await cur.fetchone()
            return int(row[0]) if row else None

    async def begin(self, event_id: int) -> QueuedTurn | None:
        """The conversation's earliest unfinished event by the customer's clock, which is usually `event_id`'s
        own. Jobs of one conversation run one at a time, one per event, so each finishes one event; taking
        the earliest sent keeps the customer's order when events were stored in another order (a retry
        that reached another replica first). None when the conversation has nothing left to do."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(_BEGIN, (event_id,))
            row = await cur.fetchone()
        return QueuedTurn(*row) if row else None

    async def quiet_for(self, event_id: int) -> float:
        """How long `event_id`'s conversation has received nothing new (seconds)."""
        async with self._pool.connection() as conn:
            row = await (await conn.execute(_QUIET, (event_id,))).fetchone()
        return float(row[0]) if row and row[0] is not None else float("inf")

    async def decided(self, event_id: int, outbound: list[dict[str, Any]]) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE inbound_events SET state = 'decided', outbound = %s WHERE id = %s AND state = 'queued'",
                (Jsonb(outbound), event_id),
            )

    async def delivered_items(self, event_id: int) -> set[int]:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT item FROM inbound_deliveries WHERE event_id = %s", (event_id,))
            return {int(row[0]) for row in await cur.fetchall()}

    async def delivered(self, event_id: int, item: int) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO inbound_deliveries (event_id, item) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (event_id, item),
            )

    async def done(self, event_id: int) -> None:
        async with self._pool.connection() as conn:
            # last_error stays: the digest lists turns that failed before they got through
            await conn.execute(
                "UPDATE inbound_events SET state = 'done', finished_at = clock_timestamp() WHERE id = %s", (event_id,)
            )

    async def failed(self, event_id: int, error: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("UPDATE inbound_events SET last_error = %s WHERE id = %s", (error, event_id))

    async def forget_done(self, *, older_than_days: int, limit: int = 5000) -> int:
        """Finished events past the retention (the digest reads the last weeks' failures) are deleted."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM inbound_events WHERE id IN (SELECT id FROM inbound_events WHERE state = 'done' "
                "AND finished_at < clock_timestamp() - make_interval(days => %s) LIMIT %s)",
                (older_than_days, limit),
            )
            return cur.rowcount

    async def requeue_orphans(self, *, older_than_seconds: float) -> int:
        """Events with no job left to run them (a job deleted by hand, a queue reset): queued again."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT procrastinate_defer_jobs_v1(array_agg(ROW(%(queue)s, %(task)s, 0, e.conversation_key, NULL, "
                "jsonb_build_object('event_id', e.id), NULL)::procrastinate_job_to_defer_v1 ORDER BY e.id)) "
                "FROM inbound_events e WHERE e.state <> 'done' "
                "AND e.received_at < clock_timestamp() - make_interval(secs => %(age)s) "
                "AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.task_name = %(task)s "
                "AND j.status IN ('todo', 'doing') AND (j.args->>'event_id')::bigint = e.id) "
                "AND e.queue = %(queue)s",
                {"queue": self.queue, "task": TURN_TASK, "age": older_than_seconds},
            )
            row = await cur.fetchone()
        return len(row[0]) if row and row[0] else 0
