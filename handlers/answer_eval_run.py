"""`supportbot eval answers`: ingests a folder into a throw-away org, asks every question the way the core answers
one (follow-ups in their thread, the same search, the offline extract, and the model's draft when a model is
configured, kept only if it passes the same checks), judges each answer, and removes the org."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from handlers.answer_eval import AnswerQuestion, Judged, judge
from handlers.answering import SEARCH_DEPTH, grounded_answer, passages_to_read, sources_of
from handlers.decisions import DecisionRecord
from handlers.follow_ups import SearchQuery, leans_on_earlier, offline_query, rewritten_query
from handlers.llm import Deadline, LanguageModel
from handlers.llm_answer import model_answer
from handlers.prompts import load_prompt
from handlers.unit_scoring import UnitScorer
from knowledge.evaluation import NEVER_STALE
from knowledge.ingest import IngestOptions, Ingestor, IngestSummary
from knowledge.models import SearchResult
from knowledge.search import HybridSearcher, top
from knowledge.store import KnowledgeStore


@dataclass(frozen=True)
class EvalSetup:
    threshold: float  # the answer workflow's confidence threshold: below it the core says it is not sure
    passages: int = 4
    company: str = "Acme Gadgets"
    model_deadline_s: float = 25.0


class AnswerEvaluation:
    def __init__(
        self,
        store: KnowledgeStore,
        ingestor: Ingestor,
        searcher: HybridSearcher,
        setup: EvalSetup,
        *,
        model: LanguageModel | None = None,
    ) -> None:
        self._store = store
        self._ingestor = ingestor
        self._searcher = searcher
        self._setup = setup
        self._model = model
        self._scorer = UnitScorer(searcher.embedder, store)

    async def run(
        self, docs: Path, questions: list[AnswerQuestion], *, on_question: Callable[[], None] | None = None
    ) -> tuple[dict[str, list[Judged]], IngestSummary]:
        """Judged answers per mode: "offline" always, "model" too when a model is configured."""
        org = f"eval-{uuid.uuid4().hex[:12]}"
        try:
            summary = await self._ingestor.ingest(
                [docs], IngestOptions(org=org, org_from_front_matter=False, review_every=NEVER_STALE)
            )
            judged: dict[str, list[Judged]] = {"offline": []}
            if self._model is not None:
                judged["model"] = []
            threads: dict[str, list[str]] = {}
            for question in questions:
                earlier = threads.get(question.after, []) if question.after else []
                threads[question.id] = [*earlier, question.question]
                judged["offline"].append(await self._offline(question, earlier, org))
                if self._model is not None:
                    judged["model"].append(await self._drafted(self._model, question, earlier, org))
                if on_question:
                    on_question()
            return judged, summary
        finally:
            await self._store.delete_org(org)

    async def _offline(self, question: AnswerQuestion, earlier: list[str], org: str) -> Judged:
        query = SearchQuery(question.question)
        if leans_on_earlier(question.question):
            query = offline_query(question.question, earlier)
        return await self._extract(question, query, *await self._search(query, org))

    async def _extract(
        self, question: AnswerQuestion, query: SearchQuery, sent: list[SearchResult], read: list[SearchResult]
    ) -> Judged:
        draft = await grounded_answer(
            question.question, read, scorer=self._scorer, context=query.context, query=query.text
        )
        if not sent or not draft.text or draft.confidence < self._setup.threshold:
            return judge(question, "", (), read)
        return judge(question, draft.text, draft.sources, read)

    async def _drafted(self, model: LanguageModel, question: AnswerQuestion, earlier: list[str], org: str) -> Judged:
        record = DecisionRecord(id="eval", conversation_key="eval", org=org, platform="eval", author="eval", inbound="")
        deadline = Deadline(self._setup.model_deadline_s)
        query = SearchQuery(question.question)
        if leans_on_earlier(question.question):
            query = await rewritten_query(
                model, load_prompt("rewrite"), question.question, earlier, record, deadline=deadline
            )
        results, read = await self._search(query, org)
        offline = await self._extract(question, query, results, read)
        if not offline.answered:
            return offline  # the core asks the model only when the passages are confident enough
        drafted = await model_answer(
            model,
            load_prompt("answer"),
            question.question,
            results,
            record,
            company=self._setup.company,
            deadline=deadline,
        )
        if drafted.text is not None:
            return judge(question, drafted.text, sources_of(drafted.citations, results), read, source=model.name)
        if drafted.not_found:
            return judge(question, "", (), read, source=f"{model.name}: not found")
        return replace(offline, source=f"offline ({drafted.rejected})")

    async def _search(self, query: SearchQuery, org: str) -> tuple[list[SearchResult], list[SearchResult]]:
        """As the core searches: (what a model is sent, what the offline answerer reads)."""
        found = await self._searcher.search(
            query.text, org=org, limit=SEARCH_DEPTH, per_document=None, include_public=False
        )
        sent = top(found, limit=self._setup.passages, per_document=1)
        return sent, passages_to_read(found, sent, question=query.text)
