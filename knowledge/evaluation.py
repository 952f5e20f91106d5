"""Retrieval quality on public question sets: recall@k and MRR@10 per search mode."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from knowledge.fusion import FusionConfig
from knowledge.ingest import IngestOptions, Ingestor, IngestSummary
from knowledge.models import DocumentRecord, SearchMode, SearchResult
from knowledge.search import HybridSearcher
from knowledge.sources import QUESTIONS_FILE
from knowledge.store import KnowledgeStore

RECALL_AT = (1, 5, 10)
# Evaluation documents never go stale, so freshness cannot skew the figures.
NEVER_STALE = timedelta(days=36500)  # evaluation documents never go stale, so freshness cannot skew the figures


@dataclass(frozen=True)
class Question:
    question: str
    gold: frozenset[str]


def load_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question, gold = item["question"], item["gold_doc_ids"]
            if not isinstance(question, str) or not question.strip():
                raise TypeError("question must be non-empty text")
            if not isinstance(gold, list) or not gold or not all(isinstance(g, str | int) for g in gold):
                raise TypeError("gold_doc_ids must be a non-empty list of document ids")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f'{path}:{number}: expected {{"question", "gold_doc_ids"}} ({exc})') from None
        questions.append(Question(question, frozenset(str(g) for g in gold)))
    if not questions:
        raise ValueError(f"{path} holds no questions")
    return questions


def questions_file_of(documents: Sequence[DocumentRecord]) -> Path:
    """Where an org's question file belongs: `QUESTIONS_FILE` in the deepest folder holding all its documents
    (which may not exist; ValueError if no document names the file it came from)."""
    paths = [doc.source_path for doc in documents if doc.source_path]
    if not paths:
        raise ValueError("the documents name no source file, so there is no folder to find the questions in")
    root = Path(os.path.commonpath(paths))
    return (root if root.is_dir() else root.parent) / QUESTIONS_FILE


def score_ranking(ranked: list[str], gold: frozenset[str], *, k: int) -> dict[str, float]:
    """Recall@1/5/k (share of gold documents found) and reciprocal rank within k."""
    scores = {f"recall@{cut}": len(gold & set(ranked[:cut])) / len(gold) for cut in sorted({*RECALL_AT, k})}
    first = next((i for i, doc in enumerate(ranked[:k], start=1) if doc in gold), None)
    scores[f"mrr@{k}"] = 1.0 / first if first else 0.0
    return scores


def average(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(sum(row[key] for row in rows) / len(rows), 4) for key in rows[0]}


def document_ids(found: list[SearchResult]) -> list[str]:
    """The ranked documents as question files name them: the file name without folders or extension."""
    return [result.doc_key.rsplit("/", 1)[-1] for result in found]


async def measure_fusions(
    searcher: HybridSearcher,
    questions: Sequence[Question],
    fusions: Sequence[FusionConfig],
    *,
    org: str,
    k: int = 10,
    include_public: bool = True,
    on_question: Callable[[], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Recall@1/5/k and MRR@k of hybrid search with each fusion, keyed by its label; one query per question."""
    per_fusion: dict[str, list[dict[str, float]]] = {fusion.label: [] for fusion in fusions}
    for question in questions:
        rows, _ = await searcher.candidates(
            question.question, org=org, mode=SearchMode.HYBRID, limit=k, include_public=include_public
        )
        for fusion in fusions:
            found = searcher.rank(rows, mode=SearchMode.HYBRID, fusion=fusion, limit=k, per_document=1)
            per_fusion[fusion.label].append(score_ranking(document_ids(found), question.gold, k=k))
        if on_question:
            on_question()
    return {label: average(rows) for label, rows in per_fusion.items()}


class RetrievalEvaluation:
    """Ingests a document folder into a throw-away org, asks every question, removes the org."""

    def __init__(self, store: KnowledgeStore, ingestor: Ingestor, searcher: HybridSearcher) -> None:
        self._store = store
        self._ingestor = ingestor
        self._searcher = searcher

    async def run(
        self,
        docs: Path,
        questions: list[Question],
        *,
        modes: list[SearchMode],
        k: int = 10,
        fusions: Sequence[FusionConfig] = (),
        on_question: Callable[[], None] | None = None,
    ) -> tuple[dict[str, dict[str, float]], IngestSummary]:
        """Figures per mode; with `fusions`, also hybrid search with each of them ("hybrid <label>")."""
        org = f"eval-{uuid.uuid4().hex[:12]}"
        try:
            summary = await self._ingestor.ingest(
                [docs],
                IngestOptions(org=org, org_from_front_matter=False, review_every=NEVER_STALE, unit_vectors=False),
            )
            per_mode: dict[str, list[dict[str, float]]] = {}
            for question in questions:
                for mode in modes:
                    rows, fusion = await self._searcher.candidates(
                        question.question, org=org, mode=mode, limit=k, include_public=False
                    )
                    # the default fusion under the mode's name; other fusions rank the same candidates
                    options = [(mode.value, fusion)]
                    if mode is SearchMode.HYBRID:
                        options += [(f"hybrid {extra.label}", extra) for extra in fusions]
                    for name, chosen in options:
                        found = self._searcher.rank(rows, mode=mode, fusion=chosen, limit=k, per_document=1)
                        per_mode.setdefault(name, []).append(score_ranking(document_ids(found), question.gold, k=k))
                if on_question:
                    on_question()
            return {name: average(rows) for name, rows in per_mode.items()}, summary
        finally:
            await self._store.delete_org(org)
