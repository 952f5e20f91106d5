"""The golden scenarios (examples/scenarios) through the real core, offline, on the session's database with the
sample knowledge base ingested once; and what a failing scenario reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.scenario_eval import scenario_world, warm_embeddings
from bot.services import Services
from handlers.decisions import DecisionStore
from handlers.explain.chain import DecisionExplainer
from handlers.scenario_load import load_scenarios, parse_scenarios
from handlers.scenario_run import ScenarioRunner, ScenarioWorld
from tests.conftest import sample_company

# the first test ingests the sample knowledge base when no earlier module did: slow on a busy machine
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
async def runner(services: Services) -> AsyncIterator[ScenarioRunner]:
    await sample_company(services)
    async with services.pool.connection() as conn:
        await conn.execute("TRUNCATE approvals, handoffs, autonomy_stages, policy_switches CASCADE")
    world: ScenarioWorld = await scenario_world(services)
    running = ScenarioRunner(world, label="test")
    yield running
    await running.restore()


async def test_every_golden_scenario_passes_offline(runner: ScenarioRunner, services: Services) -> None:
    scenarios = load_scenarios([REPO / "examples" / "scenarios"])
    assert len(scenarios) >= 80
    await warm_embeddings(services, scenarios)  # as `eval scenarios` does: one batch instead of 300 calls
    failed = []
    for loaded in scenarios:
        result = await runner.run(loaded)
        if not result.passed:
            failed.append(f"{result.id} ({result.source}): {result.failure}")
    assert not failed, f"{len(failed)} golden scenario(s) failed:\n" + "\n".join(failed)


BROKEN = """
id: refund-wrongly-expected
turns:
  - customer: "I want a refund of $40 for order A-10231, the case is cracked"
    expect:
      route: refund
      approval_card: true
      policy: {outcome: act, rule: autonomy_auto}
      says: ["this phrase is never said"]
"""


async def test_a_failing_scenario_names_its_first_failed_expectation_and_an_explainable_decision(
    runner: ScenarioRunner, services: Services
) -> None:
    [loaded] = parse_scenarios(BROKEN, source="broken.yaml")
    result = await runner.run(loaded)
    assert not result.passed and result.failure is not None
    # route and card held; the policy outcome is the first that did not (the phrase comes later)
    assert result.failure.step == "turn 1"
    assert result.failure.mismatch.expectation == "policy.outcome"
    assert (result.failure.mismatch.expected, result.failure.mismatch.got) == ("act", "needs_approval")
    assert str(result.failure) == (
        f"turn 1: policy.outcome: expected act, got needs_approval (decision {result.failure.decision_id})"
    )
    story = await DecisionExplainer(DecisionStore(services.pool), services.escalation).explain(
        result.failure.decision_id or ""
    )
    assert "autonomy_approve" in story and "A-10231" in story
