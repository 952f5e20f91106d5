"""A process killed with SIGKILL between approval and execution: after restart the action runs once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage import database_url
from escalation.models import ApprovalState
from tests.fakes.counting_executor import effects, runs
from tests.integration.escalation_fixtures import Rig, refund, rig

pytestmark = pytest.mark.integration
__all__ = ["rig"]
REPO = Path(__file__).resolve().parents[2]

CHILD = """
import asyncio, sys
from datetime import timedelta
from psycopg_pool import AsyncConnectionPool
from escalation.approvals import ApprovalService
from escalation.executors import ExecutorRegistry
from escalation.service import Escalation
from tests.fakes.counting_executor import CountingExecutor, runs
from tests.integration.escalation_fixtures import ACTIONS, LEAD, POLICY

async def main(url, approval_id, crash_point):
    async with AsyncConnectionPool(url, min_size=1, max_size=2) as pool:
        executor = CountingExecutor(pool, actions=ACTIONS, dedupe=True)
        executor.block = asyncio.Event()  # a run that never finishes: the process dies inside it
        if crash_point == "before_execution":
            async def die_before(self, approval_id):  # the crash window: decision committed, nothing run
                print("approved", flush=True)
                await asyncio.Event().wait()
            ApprovalService.execute = die_before
        registry = ExecutorRegistry()
        registry.register(executor)
        escalation = Escalation(pool, POLICY, registry, lease=timedelta(seconds=2))
        task = asyncio.create_task(escalation.approve(approval_id, LEAD))
        while crash_point == "during_execution" and not await runs(pool, approval_id):
            await asyncio.sleep(0.05)
        if crash_point == "during_execution":
            print("executing", flush=True)
        await task

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
"""


async def _kill_child_at(url: str, approval_id: str, crash_point: str, marker: str) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        url,
        approval_id,
        crash_point,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    line = (await asyncio.wait_for(child.stdout.readline(), 60)).decode().strip()
    if line != marker:
        raise AssertionError((await child.communicate())[1].decode())
    os.kill(child.pid, signal.SIGKILL)
    await asyncio.wait_for(child.communicate(), 10)
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize(
    ("crash_point", "marker", "left_in"),
    [
        ("before_execution", "approved", ApprovalState.APPROVED),
        ("during_execution", "executing", ApprovalState.EXECUTING),
    ],
)
async def test_a_killed_process_leaves_work_that_restart_finishes_exactly_once(
    rig: Rig, crash_point: str, marker: str, left_in: ApprovalState
) -> None:
    rig.executor._dedupe = True  # the restarted process talks to a back end that honours keys
    proposed = await rig.escalation.propose(refund(1500))
    assert proposed.approval is not None
    await _kill_child_at(database_url(rig.services.settings), proposed.approval.id, crash_point, marker)

    store = rig.escalation.approvals._store
    stranded = await store.get(proposed.approval.id)
    assert stranded is not None and stranded.state is left_in
    if left_in is ApprovalState.EXECUTING:
        # the dead process still holds the lease; nobody may take over before it runs out
        assert await rig.escalation.recover() == []
        await asyncio.sleep(2.2)

    rig.clock.now = datetime.now(UTC)  # the restarted process reads the time anew (executed_at is on its clock)
    [recovered] = await rig.escalation.recover()
    assert recovered.state is ApprovalState.EXECUTED
    assert await rig.escalation.recover() == []  # a second restart finds nothing to do
    assert await effects(rig.services.pool) == [(recovered.idempotency_key, "refund")]
    expected_runs = 1 if left_in is ApprovalState.APPROVED else 2  # a replay with the same key
    assert len(await runs(rig.services.pool)) == expected_runs
    assert recovered.attempts == (1 if left_in is ApprovalState.APPROVED else 2)
    assert timedelta(0) <= recovered.executed_at - recovered.decided_at  # type: ignore[operator]
