"""The weekly evaluation stores its figures; the digest compares them with last week's and flags drift with what
changed; promotion is refused, naming the failing scenario, until the scenarios pass on what runs now."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.eval_job import weekly_evaluation
from bot.services import Services
from escalation.errors import PromotionRefused
from escalation.models import Actor, Role, Stage
from handlers.eval_history import EvalHistory, Fingerprint, current_fingerprint
from knowledge.fusion import Fusion, FusionConfig
from knowledge.fusion_store import OrgFusionStore
from knowledge.sources import KnowledgeSources
from scheduler.digest.build import DigestSources, build_digest
from scheduler.digest.render import render_text
from scheduler.digest.weeks import last_complete_week
from tests.integration.helpers import write_doc

pytestmark = pytest.mark.integration
LEAD = Actor("U-lead", Role.LEAD, frozenset({"support-leads"}))

SCENARIOS = """
scenarios:
  - id: warranty-question
    kind: knowledge
    workflows: [answer]
    turns:
      - customer: "How long is the warranty on the Hub Mini?"
        expect: {outcome: answered, cites: [hub-mini-warranty], says: ["3 years"]}
  - id: refund-needs-a-person
    turns:
      - customer: "I want a refund of $40 for order A-10231, the case is cracked"
        expect: {route: refund, approval_card: true, policy: {outcome: act}}
"""


@pytest.fixture
async def clean(services: Services) -> AsyncIterator[Services]:
    async with services.pool.connection() as conn:
        await conn.execute("TRUNCATE eval_runs, kb_sources, autonomy_stages, policy_switches")
    yield services
    async with services.pool.connection() as conn:
        await conn.execute("TRUNCATE eval_runs, kb_sources, autonomy_stages")


async def test_the_weekly_job_stores_its_figures_and_the_digest_flags_the_drop(clean: Services, tmp_path: Path) -> None:
    services = clean
    docs = tmp_path / "docs"
    write_doc(
        docs, "hub-mini-warranty.md", "The Hub Mini has a warranty of 3 years from delivery.", title="Hub Mini warranty"
    )
    write_doc(docs, "pallets.md", "Pallets are delivered by freight within 5 business days.", title="Pallet delivery")
    (docs / "retrieval-questions.jsonl").write_text(
        json.dumps({"question": "What is the Hub Mini warranty?", "gold_doc_ids": ["hub-mini-warranty"]}) + "\n"
    )
    (tmp_path / "scenarios.yaml").write_text(SCENARIOS, encoding="utf-8")
    await KnowledgeSources(services.pool).record([docs], org=None)
    history = EvalHistory(services.pool)
    # last week: everything passed, on another policy
    before = Fingerprint("old-policy", "answer@1", "offline", "old-knowledge")
    figures = {"pass_rate": 1.0, "scenarios": 2, "runs": 1, "passing_workflows": ["answer", "refund"]}
    earlier = await history.add(kind="scenarios", mode="offline", figures=figures, fingerprint=before, source="test")
    async with services.pool.connection() as conn:
        await conn.execute("UPDATE eval_runs SET ran_at = now() - interval '8 days' WHERE id = %s", (earlier,))

    configured = replace(services, settings=services.settings.model_copy(update={"eval_scenarios": tmp_path}))
    summary = await weekly_evaluation(configured, "evaluation:test-slot")

    assert summary == "scenarios offline pass rate 0.500; retrieval docs"
    [retrieval, scenarios, _] = await history.runs()
    assert (scenarios.kind, scenarios.source, scenarios.figures["pass_rate"]) == (
        "scenarios",
        "evaluation:test-slot",
        0.5,
    )
    assert scenarios.figures["failing_workflows"] == {"refund": ["refund-needs-a-person"]}
    assert scenarios.database is not None and scenarios.database.startswith("supportbot_scenarios_")
    assert (retrieval.kind, retrieval.figures["recall@1"]) == ("retrieval", 1.0)

    now = datetime.now(UTC)
    digest = await build_digest(
        DigestSources.build(services.pool, services.escalation, services.store, drift_margin=0.05),
        last_complete_week(now + timedelta(days=7), UTC),  # the week in progress: its figures are today's
        zone=UTC,
        now=now,
    )
    text = render_text(digest)
    assert "Evaluation (1 drift)" in text
    [drift] = [line for line in text.splitlines() if "DRIFT" in line]
    assert drift.startswith(
        "  - DRIFT: scenarios (offline) pass rate: 0.500 (last week 1.000), down 0.500; since then: documents "
        "ingested or changed"
    )
    assert "; policy changed; prompt versions changed (answer@1 → answer@" in drift
    assert "retrieval (public) recall@1: 1.000 (no run the week before)" in text


async def test_promotion_is_refused_naming_the_failing_scenario(clean: Services) -> None:
    services = clean
    autonomy = services.escalation.autonomy
    with pytest.raises(PromotionRefused, match=r"refund stays at approve: no scenario run on the current policy"):
        await autonomy.promote("refund", Stage.AUTO, by=LEAD)
    fingerprint = await current_fingerprint(services.escalation.policy, KnowledgeSources(services.pool), model=None)
    failing = {
        "pass_rate": 0.5,
        "failing_workflows": {"refund": ["refund-over-the-limit"]},
        "passing_workflows": ["cancel_order"],
        "failures": [
            {
                "scenario": "refund-over-the-limit",
                "step": "turn 1",
                "expectation": "policy.rule",
                "expected": "amount_above_limit",
                "got": "autonomy_approve",
                "decision_id": "dec_abc",
            }
        ],
    }
    history = EvalHistory(services.pool)
    await history.add(
        kind="scenarios", mode="offline", figures=failing, fingerprint=fingerprint, source="cli", database="db1"
    )
    with pytest.raises(PromotionRefused) as refused:
        await autonomy.promote("refund", Stage.AUTO, by=LEAD)
    assert str(refused.value).startswith(
        "refund stays at approve: scenario refund-over-the-limit failed in the run of "
    )
    assert str(refused.value).endswith(
        "at turn 1: policy.rule expected amount_above_limit, got autonomy_approve "
        "(supportbot explain dec_abc --database db1)"
    )
    readiness = await autonomy.readiness("refund")
    assert any("refund-over-the-limit failed" in blocker for blocker in readiness.blockers)
    assert await autonomy.stage("refund") is Stage.APPROVE
    # demotion is never held back, and a workflow whose scenarios passed may be promoted
    await autonomy.promote("refund", Stage.SHADOW, by=LEAD)
    await autonomy.promote("cancel_order", Stage.AUTO, by=LEAD)
    assert await autonomy.stage("cancel_order") is Stage.AUTO


async def test_an_orgs_retrieval_figures_are_measured_with_the_fusion_it_was_calibrated_to(
    clean: Services, tmp_path: Path
) -> None:
    """The same documents and question, public and for an org whose calibrated fusion is full text alone: the
    question's words are only in the other document, so that org's figures fall where the default's do not."""
    services = clean
    for folder in ("public", "lexical"):
        docs = tmp_path / folder / "docs"
        write_doc(
            docs,
            "sending-back.md",
            "Products may be sent back within 30 days of delivery for a full refund.",
            title="Sending products back",
        )
        write_doc(
            docs, "keyboard.md", "Press the return key on something you bought from the keyboard range.", title="Keys"
        )
        (docs / "retrieval-questions.jsonl").write_text(
            json.dumps({"question": "Can I return something I bought?", "gold_doc_ids": ["sending-back"]}) + "\n"
        )
    await KnowledgeSources(services.pool).record([tmp_path / "public" / "docs"], org=None)
    await KnowledgeSources(services.pool).record([tmp_path / "lexical" / "docs"], org="acme-lexical")
    full_text_only = FusionConfig(method=Fusion.CONVEX, dense_weight=0.0)
    await OrgFusionStore(services.pool).set("acme-lexical", full_text_only, questions=1, figures={})
    configured = replace(services, settings=services.settings.model_copy(update={"eval_scenarios": tmp_path / "none"}))
    try:
        summary = await weekly_evaluation(configured, "evaluation:test-slot")
    finally:
        await OrgFusionStore(services.pool).clear("acme-lexical")

    assert "retrieval docs (acme-lexical, fusion convex 0)" in summary
    runs = {run.org or None: run for run in await EvalHistory(services.pool).runs(kind="retrieval")}
    assert runs[None].figures["recall@1"] == 1.0
    assert runs["acme-lexical"].figures["recall@1"] == 0.0
