"""How the durable turn queue is doing, for `/healthz`: how many turns wait, for how long, and which keep failing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import LiteralString

from knowledge.store import Pool

# A turn waits until it is done: "queued" (not run yet) or "decided" (run, its replies not all delivered).
# The partial index `inbound_events_waiting` serves both scans, so a probe stays cheap however many turns are done.
_QUEUE_HEALTH: LiteralString = """
    SELECT count(*),
           coalesce(extract(epoch FROM clock_timestamp() - min(received_at)), 0)::float8,
           count(*) FILTER (WHERE attempts > 1 AND last_error IS NOT NULL),
           (SELECT last_error FROM inbound_events
            WHERE state IN ('queued', 'decided') AND attempts > 1 AND last_error IS NOT NULL
            ORDER BY received_at DESC, id DESC LIMIT 1)
    FROM inbound_events
    WHERE state IN ('queued', 'decided')
"""


@dataclass(frozen=True)
class QueueHealth:
    waiting: int
    oldest_waiting_seconds: float
    """Age of the oldest waiting turn; 0 when none waits."""
    failing: int
    """Waiting turns that were tried more than once and failed last time."""
    last_error: str | None
    """The error of the most recently received failing turn."""


async def queue_health(pool: Pool) -> QueueHealth:
    async with pool.connection() as conn:
        row = await (await conn.execute(_QUEUE_HEALTH)).fetchone()
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return QueueHealth(
        waiting=int(row[0]), oldest_waiting_seconds=float(row[1]), failing=int(row[2]), last_error=row[3]
    )
