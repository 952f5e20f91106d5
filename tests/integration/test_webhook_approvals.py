"""Approvals executed by the HTTP webhook executor against a local fake back end over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest

from escalation.executors import ExecutorRegistry
from escalation.models import ApprovalState
from escalation.service import Escalation
from escalation.webhook import WebhookExecutor
from tests.fakes.webhook_server import SECRET, FakeWebhook, Reply
from tests.integration.escalation_fixtures import BILLING, POLICY, Rig, refund, rig

pytestmark = pytest.mark.integration
__all__ = ["rig"]


@pytest.fixture
def backend() -> Iterator[FakeWebhook]:
    server = FakeWebhook().start()
    yield server
    server.stop()


@pytest.fixture
async def escalation(rig: Rig, backend: FakeWebhook) -> AsyncIterator[Escalation]:
    webhook = WebhookExecutor(
        url=backend.url,
        secret=SECRET,
        actions=frozenset({"refund"}),
        timeout=0.5,
        max_attempts=3,
        backoff_initial=0.01,
        backoff_max=0.05,
    )
    registry = ExecutorRegistry()
    registry.register(webhook)
    yield Escalation(rig.services.pool, POLICY, registry, lease=timedelta(seconds=5), clock=rig.clock)
    await webhook.close()


async def approve_refund(escalation: Escalation):  # type: ignore[no-untyped-def]
    proposed = await escalation.propose(refund(2500))
    assert proposed.approval is not None
    return await escalation.approve(proposed.approval.id, BILLING)


async def test_500_then_200_succeeds_once(escalation: Escalation, backend: FakeWebhook) -> None:
    backend.respond(500, 500)
    decision, handoff = await approve_refund(escalation)
    assert decision.approval.state is ApprovalState.EXECUTED and handoff is None
    assert decision.approval.result is not None and decision.approval.result["summary"] == "refunded 40.00"
    assert len(backend.requests) == 3 and backend.distinct_keys == 1
    assert list(backend.ran.values()) == [1]
    assert all(request.signature_ok for request in backend.requests)


async def test_a_down_back_end_fails_and_escalates_with_the_error(escalation: Escalation, backend: FakeWebhook) -> None:
    backend.respond(503, 503, 503)
    decision, handoff = await approve_refund(escalation)
    assert decision.approval.state is ApprovalState.FAILED
    assert "3 attempts" in (decision.approval.last_error or "")
    assert handoff is not None and handoff.reason.startswith("the action failed:")
    assert handoff.assigned_to == "group:billing"
    assert sum(backend.ran.values()) == 0
    # a failed approval is never retried behind a human's back
    assert (await escalation.approvals.execute(decision.approval.id)).state is ApprovalState.FAILED
    assert len(backend.requests) == 3


async def test_a_slow_back_end_is_retried_but_runs_once(escalation: Escalation, backend: FakeWebhook) -> None:
    backend.respond(Reply(delay=0.8))  # longer than the 0.5 s timeout: the client gives up, the server still runs
    decision, _ = await approve_refund(escalation)
    assert decision.approval.state is ApprovalState.EXECUTED
    assert backend.distinct_keys == 1
    assert list(backend.ran.values()) == [1]  # the retry was answered from the stored result


async def test_a_4xx_is_final(escalation: Escalation, backend: FakeWebhook) -> None:
    backend.respond(Reply(422, body={"error": "order already refunded"}))
    decision, handoff = await approve_refund(escalation)
    assert decision.approval.state is ApprovalState.FAILED and handoff is not None
    assert "422" in (decision.approval.last_error or "") and len(backend.requests) == 1
