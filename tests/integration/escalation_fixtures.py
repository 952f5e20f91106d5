"""Fixtures for escalation tests: the example policy, a counting executor, a movable clock, actors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.services import Services
from escalation.executors import ExecutorRegistry
from escalation.models import Actor, ProposedAction, Role
from escalation.policy import load_policy
from escalation.service import Escalation
from tests.fakes.counting_executor import CREATE, CountingExecutor

POLICY = load_policy(Path(__file__).resolve().parents[2] / "examples" / "policy" / "acme.yaml")
ACTIONS = frozenset({"refund", "reverse_refund", "cancel_order", "reinstate_order", "change_email", "order_status"})

LEAD = Actor("U-lead", Role.LEAD, frozenset({"support-leads"}), "Lena Lead")
BILLING = Actor("U-billing", Role.STAFF, frozenset({"billing"}), "Bo Billing")
AGENT = Actor("U-agent", Role.STAFF, frozenset({"support-tier1"}), "Ana Agent")
SECURITY = Actor("U-sec", Role.STAFF, frozenset({"security"}), "Sam Security")
CUSTOMER = Actor("U-customer", Role.CUSTOMER, frozenset({"support-leads"}), "Carl Customer")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Rig:
    escalation: Escalation
    executor: CountingExecutor
    clock: Clock
    services: Services


def refund(amount: int = 2500, *, requested_by: str = "U-customer", org: str | None = "globex") -> ProposedAction:
    return ProposedAction(
        workflow="refund",
        action="refund",
        params={"order_id": "A-10231", "amount_cents": amount},
        requested_by=requested_by,
        org=org,
        conversation_key="C1:1700000000.1",
        decision_id="dec_test",
        confidence=0.92,
        amount_cents=amount,
    )


@pytest.fixture
async def rig(services: Services) -> AsyncIterator[Rig]:
    async with services.pool.connection() as conn:
        await conn.execute(CREATE)
        await conn.execute(
            "TRUNCATE approvals, handoffs, autonomy_stages, policy_switches, audit_log, test_action_runs, "
            "test_action_effects CASCADE"
        )
    executor = CountingExecutor(services.pool, actions=ACTIONS)
    registry = ExecutorRegistry()
    registry.register(executor)
    clock = Clock()
    yield Rig(
        Escalation(services.pool, POLICY, registry, lease=timedelta(seconds=2), clock=clock), executor, clock, services
    )
