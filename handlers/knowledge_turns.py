"""A question answered from the knowledge base: the search (a follow-up read with the earlier question of its
thread), the offline extract, the model's draft when a model is configured (kept only if it passes the draft
checks), or "not sure" with a knowledge gap recorded. The core sends here every message that starts no workflow."""

from __future__ import annotations

from escalation.service import Escalation
from handlers.answering import SEARCH_DEPTH, grounded_answer, mark_cited, passages_to_read, sources_of
from handlers.conversations import Conversation, ConversationStore
from handlers.core_config import DEFAULT_CONFIG, CoreConfig
from handlers.decisions import DecisionRecord
from handlers.follow_ups import LOOK_BACK, SearchQuery, leans_on_earlier, offline_query, rewritten_query
from handlers.llm import Deadline, LanguageModel
from handlers.llm_answer import model_answer
from handlers.models import ActionKind, Button, InboundMessage, Outbound
from handlers.pii import redact
from handlers.ports import Route
from handlers.prompts import load_prompt
from handlers.replies import say
from handlers.unit_scoring import UnitScorer
from handlers.unit_vectors import UnitVectorStore
from knowledge.gaps import GapLog, GapReason
from knowledge.search import HybridSearcher, top

OFFLINE_ANSWERER = ("offline-grounded", "extractive-1")  # quotes the best passages (handlers/answering.py)


class KnowledgeTurns:
    def __init__(
        self,
        *,
        searcher: HybridSearcher,
        gaps: GapLog,
        escalation: Escalation,
        conversations: ConversationStore,
        language_model: LanguageModel | None = None,
        unit_vectors: UnitVectorStore | None = None,
        config: CoreConfig = DEFAULT_CONFIG,
    ) -> None:
        self._searcher = searcher
        self._gaps = gaps
        self._escalation = escalation
        self._conversations = conversations
        self._config = config
        self._model = language_model
        self._template = load_prompt("answer") if language_model else None
        self._rewrite_template = load_prompt("rewrite") if language_model else None
        # the offline answerer compares units with the question in the search's own embedding space: the question's
        # vector is the search's (cached), the units' were stored at ingestion (`unit_vectors`)
        self._scorer = UnitScorer(searcher.embedder, unit_vectors)

    async def answer(
        self,
        inbound: InboundMessage,
        conversation: Conversation,
        record: DecisionRecord,
        text: str,
        route: Route,
        *,
        deadline: Deadline,
    ) -> list[Outbound]:
        query = await self._search_query(conversation, text, record, deadline=deadline)
        record.search_query = query.text
        if query.context is not None:
            record.note(f"follow-up: searched {query.how}")
        found = await self._searcher.search(query.text, org=inbound.org, limit=SEARCH_DEPTH, per_document=None)
        results = top(found, limit=self._config.passages, per_document=1)  # what a model is sent
        read = passages_to_read(found, results, question=query.text)
        record.retrieved = [
            {
                "chunk_id": r.chunk_id,
                "doc_key": r.doc_key,
                "title": r.title,
                "heading_path": list(r.heading_path),
                "org": r.org,
                "freshness": r.freshness.value,
                "score": round(r.score, 4),
                "scores": {k: round(v, 4) for k, v in r.scores.items()},
            }
            for r in read
        ]
        draft = await grounded_answer(text, read, scorer=self._scorer, context=query.context, query=query.text)
        record.confidence = draft.confidence
        # `record.model` names the answerer of the reply; each model call of the turn is on `record.model_calls`
        record.model, record.prompt_version = OFFLINE_ANSWERER
        threshold = self._threshold(self._config.answer_workflow)
        if results and draft.text and draft.confidence >= threshold:
            answer, citations, parts, sources = draft.text, draft.citations, draft.parts, draft.sources
            if self._model is not None and self._template is not None:
                drafted = await model_answer(
                    self._model,
                    self._template,
                    self._for_model(text, record),
                    results,
                    record,
                    company=self._config.company,
                    deadline=deadline,
                )
                if drafted.text is not None:
                    answer, citations, parts = drafted.text, drafted.citations, ()
                    sources = sources_of(drafted.citations, results)
                    record.model, record.prompt_version = self._model.name, self._template.label
                elif drafted.not_found:
                    record.model, record.prompt_version = self._model.name, self._template.label
                    record.note("the model found no answer in the retrieved passages")
                    return await self._not_sure(
                        inbound, conversation, record, text, route=route, confidence=draft.confidence
                    )
                else:
                    record.note(f"model draft not used ({drafted.rejected}); quoted the passages instead")
            mark_cited(record.retrieved, sources)
            buttons = (
                Button(ActionKind.HELPFUL, "Helpful", record.id),
                Button(ActionKind.NOT_HELPFUL, "Not helpful", record.id),
                Button(ActionKind.TALK_TO_HUMAN, "Talk to a human", record.id),
            )
            return await say(
                self._conversations,
                record,
                conversation,
                answer,
                outcome="answered",
                citations=citations,
                buttons=buttons,
                parts=parts,
            )
        return await self._not_sure(
            inbound, conversation, record, text, route=route, confidence=draft.confidence, found=bool(results)
        )

    async def _search_query(
        self, conversation: Conversation, text: str, record: DecisionRecord, *, deadline: Deadline
    ) -> SearchQuery:
        """The message as written, or, for a follow-up, read with the earlier question of its thread."""
        if not leans_on_earlier(text):
            return SearchQuery(text)
        turns = await self._conversations.recent_turns(conversation.key, limit=4 * LOOK_BACK)
        earlier = [turn_text for role, _, turn_text in turns if role == "customer"][:-1]  # the last one is this
        if self._model is not None and self._rewrite_template is not None:
            earlier = [self._for_model(said, record) for said in earlier]
            return await rewritten_query(
                self._model, self._rewrite_template, self._for_model(text, record), earlier, record, deadline=deadline
            )
        return offline_query(text, earlier)

    def _for_model(self, text: str, record: DecisionRecord) -> str:
        """What the model may read of the customer's words: with LLM_REDACT_PII, no personal data; the decision
        record lists the kinds taken out."""
        if not self._config.redact_for_model:
            return text
        redacted = redact(text)
        if redacted.changed:
            kinds = [*(record.redacted_for_model or []), *redacted.kinds]
            record.redacted_for_model = sorted(set(kinds))
        return redacted.text

    async def _not_sure(
        self,
        inbound: InboundMessage,
        conversation: Conversation,
        record: DecisionRecord,
        text: str,
        *,
        route: Route,
        confidence: float,
        found: bool = True,
    ) -> list[Outbound]:
        threshold = self._threshold(self._config.answer_workflow)
        out_of_scope = route.label is None or route.label == self._config.out_of_scope_workflow
        reason = GapReason.NO_ANSWER if out_of_scope or not found else GapReason.LOW_CONFIDENCE
        await self._gaps.record(
            text,
            reason=reason,
            org=inbound.org,
            conversation_key=conversation.key,
            detail=f"confidence {confidence:.2f} (threshold {threshold:.2f})",
        )
        record.note(f"knowledge gap recorded ({reason.value})")
        message = (
            "That's outside what I can help with here, I'm afraid. "
            "Would you like me to bring in a person from our team?"
            if out_of_scope
            else "I'm not sure about this one, and I'd rather not guess. Would you like me to bring in a person "
            "from our team?"
        )
        return await say(
            self._conversations,
            record,
            conversation,
            message,
            outcome="not_sure",
            buttons=(Button(ActionKind.TALK_TO_HUMAN, "Talk to a human", record.id),),
        )

    def _threshold(self, workflow: str) -> float:
        policy = self._escalation.policy.workflow(workflow)
        return policy.confidence_threshold if policy else 0.6
