"""Approvals decided per second with 20 concurrent deciders, and click → executed latency (demo back end).

Run alone with `python -m bench.approvals`, or as part of `python -m bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass

from bench.database import BenchServer
from bot.services import open_services
from escalation.errors import AlreadyDecided
from escalation.models import Actor, ApprovalState, ProposedAction, Role

APPROVER = Actor("bench-approver", Role.LEAD, frozenset({"support-leads"}))
# a shipped order with a large captured payment: many 1-cent refunds fit in it
ORDER = "A-10232"


@dataclass(frozen=True)
class ApprovalsResult:
    approvals: int
    deciders: int
    seconds: float
    latencies_ms: list[float]
    executed: int
    race_clicks: int
    race_winners: int
    race_executions: int
    alone_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.approvals / self.seconds

    def percentile(self, share: float) -> float:
        return _p(self.latencies_ms, share)


def _p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _refund(number: int) -> ProposedAction:
    return ProposedAction(
        workflow="refund",
        action="refund",
        params={"order_id": ORDER, "amount_cents": 1, "reason": f"bench {number}"},
        requested_by="bench-agent",
        conversation_key=f"bench:{number}",
        confidence=0.95,
        amount_cents=1,
    )


async def run(server: BenchServer, *, approvals: int = 400, deciders: int = 20) -> ApprovalsResult:
    settings = await server.fresh_database("bench_approvals")
    async with open_services(settings, check_embedder=False) as services:
        escalation = services.escalation
        pending = [await escalation.propose(_refund(i)) for i in range(approvals)]
        queue: asyncio.Queue[str] = asyncio.Queue()
        for proposal in pending:
            assert proposal.approval is not None and proposal.approval.state is ApprovalState.PENDING
            queue.put_nowait(proposal.approval.id)
        latencies: list[float] = []
        executed = 0

        async def decider() -> None:
            nonlocal executed
            while not queue.empty():
                approval_id = queue.get_nowait()
                started = time.perf_counter()
                decision, _ = await escalation.approve(approval_id, APPROVER)
                latencies.append((time.perf_counter() - started) * 1000)
                executed += decision.approval.state is ApprovalState.EXECUTED

        started = time.perf_counter()
        await asyncio.gather(*(decider() for _ in range(deciders)))
        seconds = time.perf_counter() - started

        # one decider alone: the latency a single click sees without queueing for connections
        alone: list[float] = []
        for i in range(50):
            proposal = await escalation.propose(_refund(approvals + 100 + i))
            assert proposal.approval is not None
            started_one = time.perf_counter()
            decision, _ = await escalation.approve(proposal.approval.id, APPROVER)
            alone.append((time.perf_counter() - started_one) * 1000)
            executed += decision.approval.state is ApprovalState.EXECUTED

        # contention: every decider clicks the same approval at once, 20 times over
        winners = clicks = 0
        for i in range(20):
            proposal = await escalation.propose(_refund(approvals + i))
            assert proposal.approval is not None
            outcomes = await asyncio.gather(
                *(escalation.approve(proposal.approval.id, APPROVER) for _ in range(deciders)), return_exceptions=True
            )
            clicks += len(outcomes)
            winners += sum(1 for outcome in outcomes if not isinstance(outcome, AlreadyDecided))
        async with services.pool.connection() as conn:
            row = await (
                await conn.execute("SELECT count(*) FROM demo.refunds WHERE reason LIKE 'bench %%'")
            ).fetchone()
        race_executions = (int(row[0]) if row else 0) - executed
    return ApprovalsResult(approvals, deciders, seconds, latencies, executed, clicks, winners, race_executions, alone)


def render(result: ApprovalsResult) -> str:
    return "\n".join(
        [
            "## Approvals",
            "",
            f"{result.approvals} pending refund approvals decided by {result.deciders} concurrent deciders on the "
            "embedded database; each decision is the conditional update, the audit rows, the claim, the demo back "
            "end's refund (its own transaction, keyed by the idempotency key) and the final update.",
            "",
            "| measure | value |",
            "|---|---|",
            f"| decisions per second | {result.per_second:.0f} |",
            f"| click → executed p50 | {statistics.median(result.latencies_ms):.1f} ms |",
            f"| click → executed p95 | {result.percentile(0.95):.1f} ms |",
            f"| click → executed p99 | {result.percentile(0.99):.1f} ms |",
            f"| one decider alone, click → executed p50 / p95 (50 clicks) | "
            f"{statistics.median(result.alone_ms):.1f} ms / {_p(result.alone_ms, 0.95):.1f} ms |",
            f"| executed | {result.executed} of {result.approvals + len(result.alone_ms)} |",
            f"| contention: {result.race_clicks} clicks on 20 approvals ({result.deciders} at once each) | "
            f"{result.race_winners} winners, {result.race_executions} executions |",
            "",
            "Latency under 20 concurrent deciders includes waiting for one of the pool's connections "
            "(`DB_POOL_MAX`, 10 by default); exactly one click per approval wins and it runs once.",
        ]
    )


async def _main(approvals: int, deciders: int) -> None:
    server = BenchServer()
    try:
        print(render(await run(server, approvals=approvals, deciders=deciders)))
    finally:
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.approvals", description=__doc__)
    parser.add_argument("--approvals", type=int, default=400)
    parser.add_argument("--deciders", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(_main(arguments.approvals, arguments.deciders))
