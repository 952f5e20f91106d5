"""Two processes restarting at once after a crash both run `recover()`: each approved action runs once.

The crash is staged in the database as one leaves it: approvals decided but never run (`approved`) and runs
whose process died (`executing`, lease expired, the executor never reached). Two real processes then recover
together, released by one line on their stdin; the executor counts every run in PostgreSQL and does not
deduplicate, so an action claimed by both would show up as two runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from bot.storage import database_url
from escalation.models import ApprovalState
from tests.fakes.counting_executor import runs
from tests.integration.escalation_fixtures import Rig, refund, rig

pytestmark = pytest.mark.integration
__all__ = ["rig"]
REPO = Path(__file__).resolve().parents[2]

CHILD = """
import asyncio, json, sys
from psycopg_pool import AsyncConnectionPool
from escalation.executors import ExecutorRegistry
from escalation.service import Escalation
from tests.fakes.counting_executor import CountingExecutor
from tests.integration.escalation_fixtures import ACTIONS, POLICY

ran = []

class Slow(CountingExecutor):
    async def execute(self, request):  # long enough for the two processes' recoveries to overlap
        ran.append(request.idempotency_key)
        await asyncio.sleep(0.3)
        return await super().execute(request)

async def main(url):
    async with AsyncConnectionPool(url, min_size=1, max_size=3) as pool:
        registry = ExecutorRegistry()
        registry.register(Slow(pool, actions=ACTIONS))
        escalation = Escalation(pool, POLICY, registry)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        await escalation.recover()
        print(json.dumps(ran), flush=True)

asyncio.run(main(sys.argv[1]))
"""


async def _stage_crash(rig: Rig) -> list[str]:
    ids = []
    for amount in range(1501, 1507):
        proposed = await rig.escalation.propose(refund(amount))
        assert proposed.approval is not None
        ids.append(proposed.approval.id)
    approved, executing = ids[:4], ids[4:]
    async with rig.services.pool.connection() as conn:
        await conn.execute(
            "UPDATE approvals SET state = 'approved', decided_by = 'U-lead', decided_at = now() WHERE id = ANY(%s)",
            (approved,),
        )
        await conn.execute(
            "UPDATE approvals SET state = 'executing', decided_by = 'U-lead', decided_at = now(), attempts = 1, "
            "lease_until = now() - interval '1 minute' WHERE id = ANY(%s)",
            (executing,),
        )
    return ids


async def test_two_processes_recovering_at_once_run_each_approved_action_once(rig: Rig) -> None:
    ids = await _stage_crash(rig)
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            database_url(rig.services.settings),
            cwd=REPO,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        for _ in range(2)
    ]
    for child in children:
        assert child.stdout is not None
        line = (await asyncio.wait_for(child.stdout.readline(), 60)).decode().strip()
        if line != "ready":
            raise AssertionError((await child.communicate())[1].decode())
    for child in children:  # both go at once
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        await child.stdin.drain()
    outputs = [await asyncio.wait_for(child.communicate(), 60) for child in children]
    for child, (_, stderr) in zip(children, outputs, strict=True):
        assert child.returncode == 0, stderr.decode()
    executed_by = [set(json.loads(stdout.decode().strip())) for stdout, _ in outputs]

    store = rig.escalation.approvals._store
    approvals = [await store.get(approval_id) for approval_id in ids]
    assert all(a is not None and a.state is ApprovalState.EXECUTED for a in approvals)
    for approval in approvals:
        assert approval is not None
        assert len(await runs(rig.services.pool, approval.idempotency_key)) == 1, approval.id
    # each action was run by exactly one of the two processes, and between them all were
    assert executed_by[0] | executed_by[1] == {a.idempotency_key for a in approvals if a is not None}
    assert not executed_by[0] & executed_by[1]
    assert executed_by[0] and executed_by[1], "the two recoveries did not overlap: the test proved nothing"
