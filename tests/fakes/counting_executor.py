"""An executor that records every run in PostgreSQL, so runs can be counted across processes."""

from __future__ import annotations

import asyncio
import json

from escalation.errors import ExecutionFailed
from escalation.executors import ActionRequest, ActionResult
from knowledge.store import Pool

CREATE = """CREATE TABLE IF NOT EXISTS test_action_runs (
    id bigserial PRIMARY KEY, idempotency_key text NOT NULL, action text NOT NULL, params jsonb NOT NULL,
    at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS test_action_effects (idempotency_key text PRIMARY KEY, action text NOT NULL)"""


class CountingExecutor:
    """Does not deduplicate on purpose: every call is a run, so a double execution shows up.

    `failures` scripts the first calls: "retry" raises a retryable failure, "final" a final one.
    `block` makes every run wait until released (to kill a process in the middle of one).
    """

    def __init__(self, pool: Pool, *, actions: frozenset[str], dedupe: bool = False) -> None:
        self._pool = pool
        self._actions = actions
        # dedupe=True behaves like a well-made back end: the effect happens once per idempotency key
        self._dedupe = dedupe
        self.failures: list[str] = []
        self.block: asyncio.Event | None = None

    name = "counting"

    def actions(self) -> frozenset[str]:
        return self._actions

    async def execute(self, request: ActionRequest) -> ActionResult:
        if self.failures:
            kind = self.failures.pop(0)
            raise ExecutionFailed(f"scripted {kind} failure", retryable=kind == "retry")
        async with self._pool.connection() as conn:
            await conn.execute(CREATE)
            await conn.execute(
                "INSERT INTO test_action_runs (idempotency_key, action, params) VALUES (%s, %s, %s::jsonb)",
                (request.idempotency_key, request.action, json.dumps(request.params)),
            )
            cur = await conn.execute(
                "INSERT INTO test_action_effects VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (request.idempotency_key, request.action),
            )
            first = await cur.fetchone() is not None
        if self._dedupe and not first:
            return ActionResult(summary=f"{request.action} already done", replayed=True)
        if self.block is not None:
            await self.block.wait()
        amount = request.params.get("amount_cents")
        reverse = {"refund_of": request.idempotency_key, "amount_cents": amount} if request.action == "refund" else None
        return ActionResult(summary=f"{request.action} done for {amount} cents", reverse_params=reverse)


async def effects(pool: Pool) -> list[tuple[str, str]]:
    async with pool.connection() as conn:
        await conn.execute(CREATE)
        rows = await (await conn.execute("SELECT idempotency_key, action FROM test_action_effects")).fetchall()
    return [(row[0], row[1]) for row in rows]


async def runs(pool: Pool, key_prefix: str = "") -> list[tuple[str, str]]:
    async with pool.connection() as conn:
        await conn.execute(CREATE)
        rows = await (
            await conn.execute(
                "SELECT idempotency_key, action FROM test_action_runs WHERE idempotency_key LIKE %s ORDER BY id",
                (key_prefix + "%",),
            )
        ).fetchall()
    return [(row[0], row[1]) for row in rows]
