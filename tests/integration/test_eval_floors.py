"""The evaluation gate: retrieval and routing on ../shared/eval's development sets must not fall below the
floors in tests/eval_floors.json (tests/eval_gate.py says which splits, and how to move a floor)."""

from __future__ import annotations

import pytest

from bot.services import Services
from handlers.routing_eval import cross_validate, evaluate_routing, load_examples
from knowledge.evaluation import RetrievalEvaluation, load_questions
from knowledge.models import SearchMode
from tests.eval_gate import ROUTING_FOLDS, below_floors, eval_data, gate_documents, load_floors, write_floors, writing

# Embedding takes minutes instead of seconds when the machine is shared and loaded; wait rather than fail.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(360)]

RETRIEVAL = "retrieval kbqa-dev"
ROUTING = "routing"


@pytest.fixture(scope="module")
async def retrieval_figures(services: Services, tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    data = eval_data() / "kbqa-dev"
    questions = load_questions(data / "questions.jsonl")
    docs = gate_documents(data, questions, tmp_path_factory.mktemp("kbqa-gate"))
    # full-text weights come from the whole corpus's term statistics: measure on an empty knowledge base
    async with services.pool.connection() as conn:
        await conn.execute("TRUNCATE kb_documents, kb_chunks, kb_gaps, kb_org_fusion RESTART IDENTITY CASCADE")
    # one batch for all questions: the session's embedder remembers batches, and 250 single calls cost more
    await services.embedder.embed([question.question for question in questions])
    evaluation = RetrievalEvaluation(services.store, services.ingestor, services.searcher)
    # hybrid, and dense alone to keep it honest; full text alone is part of hybrid and not gated on its own
    figures, summary = await evaluation.run(docs, questions, modes=[SearchMode.HYBRID, SearchMode.DENSE])
    assert len(summary.added) == 50 and not summary.failed
    return {
        f"{RETRIEVAL} {mode} {metric}": value
        for mode, values in figures.items()
        for metric, value in values.items()
        if metric in {"recall@1", "recall@5", "mrr@10"}
    }


@pytest.fixture(scope="module")
async def routing_figures(services: Services) -> dict[str, float]:
    data = eval_data()
    clinc = await evaluate_routing(
        services.embedder,
        load_examples(data / "clinc150-dev" / "train.jsonl"),
        None,
        validation=load_examples(data / "clinc150-dev" / "validation.jsonl"),
        oos_recall=services.settings.routing_oos_recall,
        holdout_folds=services.settings.routing_holdout_folds,
    )
    assert clinc.validation_figures is not None
    banking = await cross_validate(
        services.embedder, load_examples(data / "banking77-dev" / "train.jsonl"), folds=ROUTING_FOLDS
    )
    figures = {
        f"{ROUTING} clinc150-dev validation {key}": clinc.validation_figures[key]
        for key in ("in_scope_accuracy", "oos_recall", "macro_f1")
    }
    figures[f"{ROUTING} banking77-dev {ROUTING_FOLDS}-fold accuracy"] = banking["accuracy"]
    return {name: float(value) for name, value in figures.items() if value is not None}


def _check(measured: dict[str, float], prefix: str) -> None:
    if writing():
        write_floors(measured, prefix=prefix)
    problems = below_floors(load_floors(), measured, prefix=prefix)
    assert not problems, "quality fell below its floor:\n" + "\n".join(problems)


async def test_retrieval_holds_its_floors(retrieval_figures: dict[str, float]) -> None:
    _check(retrieval_figures, RETRIEVAL)


async def test_routing_holds_its_floors(routing_figures: dict[str, float]) -> None:
    _check(routing_figures, ROUTING)
