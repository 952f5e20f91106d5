"""The weekly evaluation job's work (it needs the core, which only bot/ builds): the scenarios (EVAL_SCENARIOS)
on a throw-away database loaded with every recorded knowledge source, and each source's
`retrieval-questions.jsonl` in a throw-away org; every figure stored with what it ran on."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.core_factory import start_language_model
from bot.scenario_eval import load_knowledge, run_modes, scenario_services
from bot.services import Services
from handlers.eval_history import EvalHistory, current_fingerprint
from handlers.scenario_load import ScenarioFileError, load_scenarios
from knowledge.evaluation import RetrievalEvaluation, load_questions
from knowledge.fusion_store import OrgFusionStore
from knowledge.models import SearchMode
from knowledge.sources import KnowledgeSources
from scheduler.jobs import JobContext

log = logging.getLogger(__name__)


async def weekly_evaluation(services: Services, source: str) -> str:
    settings = services.settings
    sources = await KnowledgeSources(services.pool).sources()
    history = EvalHistory(services.pool)
    done: list[str] = []
    if not sources:
        return "nothing ingested yet: no evaluation"
    try:
        scenarios = load_scenarios([settings.eval_scenarios])
    except ScenarioFileError as exc:
        log.error("the weekly evaluation cannot read its scenarios: %s", exc)
        scenarios = []
        done.append(f"scenario files unreadable ({len(exc.problems)} problems)")
    model = await start_language_model(settings)
    try:
        if scenarios:
            async with scenario_services(settings, embedder=services.embedder) as (isolated, database):
                log.info("evaluation: database %s ready; loading %d knowledge source(s)", database, len(sources))
                await load_knowledge(isolated, sources)
                log.info("evaluation: running %d scenario(s)", len(scenarios))
                for mode in await run_modes(isolated, scenarios, model=model):
                    await history.add(
                        kind="scenarios",
                        mode=mode.summary.mode,
                        figures=mode.summary.as_dict(),
                        fingerprint=mode.fingerprint,
                        source=source,
                        database=database,
                    )
                    done.append(f"scenarios {mode.summary.mode} pass rate {mode.summary.pass_rate:.3f}")
    finally:
        if model is not None:
            await model.close()
    fingerprint = await current_fingerprint(
        services.escalation.policy, KnowledgeSources(services.pool), model=model.name if model else None
    )
    evaluation = RetrievalEvaluation(services.store, services.ingestor, services.searcher)
    calibrated = OrgFusionStore(services.pool)
    for knowledge in sources:
        if knowledge.questions is None:
            continue
        # the org's own fusion (`eval calibrate-fusion`) when it has one: the figures are what its customers get
        fusion = await calibrated.get(knowledge.org) if knowledge.org else None
        figures, _ = await evaluation.run(
            knowledge.root,
            load_questions(knowledge.questions),
            modes=[SearchMode.HYBRID],
            fusions=[fusion] if fusion else [],
        )
        column = f"{SearchMode.HYBRID.value} {fusion.label}" if fusion else SearchMode.HYBRID.value
        await history.add(
            kind="retrieval",
            mode=SearchMode.HYBRID.value,
            org=knowledge.org,
            figures=figures[column],
            fingerprint=fingerprint,
            source=source,
        )
        scope = (
            f" ({knowledge.org}, fusion {fusion.label})" if fusion else f" ({knowledge.org})" if knowledge.org else ""
        )
        done.append(f"retrieval {knowledge.root.name}{scope}")
    return "; ".join(done) or "no scenarios and no retrieval questions"


def eval_job_context(services: Services, context: JobContext) -> JobContext:
    async def evaluate(source: str) -> str:
        return await weekly_evaluation(services, source)

    return replace(context, evaluate=evaluate, drift_margin=services.settings.eval_drift_margin)
