"""The (job, slot) ledger: claim before running, so each slot runs once however many replicas there are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from knowledge.store import Pool


@dataclass(frozen=True)
class JobRun:
    job: str
    slot: datetime
    state: str
    attempts: int
    claimed_by: str
    error: str | None
    summary: str | None


class SlotLedger:
    def __init__(self, pool: Pool, *, max_attempts: int = 3) -> None:
        self._pool = pool
        self._max_attempts = max_attempts

    async def claim(self, job: str, slot: datetime, *, owner: str) -> bool:
        """True for exactly one caller per slot; a failed slot may be claimed again until attempts run out."""
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute(
                    """INSERT INTO job_runs (job, slot, state, claimed_by) VALUES (%s, %s, 'running', %s)
                       ON CONFLICT (job, slot) DO UPDATE
                           SET state = 'running', attempts = job_runs.attempts + 1, claimed_by = EXCLUDED.claimed_by,
                               started_at = now(), finished_at = NULL
                           WHERE job_runs.state = 'failed' AND job_runs.attempts < %s
                       RETURNING attempts""",
                    (job, slot, owner, self._max_attempts),
                )
            ).fetchone()
        return row is not None

    async def finish(self, job: str, slot: datetime, *, summary: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE job_runs SET state = 'done', finished_at = now(), summary = %s, error = NULL "
                "WHERE job = %s AND slot = %s",
                (summary, job, slot),
            )

    async def fail(self, job: str, slot: datetime, *, error: str) -> bool:
        """Record a failure; True if the slot may still be retried."""
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute(
                    "UPDATE job_runs SET state = 'failed', finished_at = now(), error = %s "
                    "WHERE job = %s AND slot = %s RETURNING attempts",
                    (error[:2000], job, slot),
                )
            ).fetchone()
        return row is not None and int(row[0]) < self._max_attempts

    async def runs(self, *, job: str | None = None, since: datetime | None = None) -> list[JobRun]:
        async with self._pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT job, slot, state, attempts, claimed_by, error, summary FROM job_runs "
                    "WHERE (%s::text IS NULL OR job = %s) AND (%s::timestamptz IS NULL OR slot >= %s) "
                    "ORDER BY slot, job",
                    (job, job, since, since),
                )
            ).fetchall()
        return [JobRun(*row) for row in rows]
