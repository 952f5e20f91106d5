"""The conversation core: `await core.handle(inbound) -> list[Outbound]`, the same for every channel."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from escalation.service import Escalation
from handlers.answering import SEARCH_DEPTH, grounded_answer, mark_cited, passages_to_read, sources_of
from handlers.conversations import BOT, Conversation, ConversationStore
from handlers.decisions import DecisionRecord, DecisionStore, new_decision_id
from handlers.follow_ups import LOOK_BACK, SearchQuery, leans_on_earlier, offline_query, rewritten_query
from handlers.llm import Deadline, LanguageModel
from handlers.llm_answer import model_answer
from handlers.models import (
    STAFF_ROLES,
    ActionKind,
    AnswerPart,
    Button,
    Citation,
    HandoffNotice,
    InboundAction,
    InboundMessage,
    Outbound,
    Reply,
    Unbound,
)
from handlers.outbound_codec import decode, encode
from handlers.pii import redact
from handlers.ports import Route, Router
from handlers.prompts import load_prompt
from handlers.staff_actions import StaffActions
from handlers.tool_routing import choose, combined_route
from handlers.tracing import log_context, trace_ids, tracer
from handlers.unit_scoring import UnitScorer
from handlers.unit_vectors import UnitVectorStore
from handlers.workflow_turns import WorkflowTurns
from knowledge.gaps import GapLog, GapReason
from knowledge.search import HybridSearcher, top

log = logging.getLogger(__name__)

MAX_CHARS = 4000
OFFLINE_ANSWERER = ("offline-grounded", "extractive-1")  # quotes the best passages (handlers/answering.py)
SORRY = "Sorry, something went wrong on our side. A person from our team will follow up here shortly."
NO_TOOLS_NOTE = "the model does not call tools; the offline router routes"


@dataclass(frozen=True)
class CoreConfig:
    answer_workflow: str = "answer"
    human_workflow: str = "talk_to_human"
    out_of_scope_workflow: str = "out_of_scope"
    passages: int = 4
    company: str = "Acme Gadgets"
    # every model call of one turn, retries included, ends by then; well inside a platform's turn time-out
    model_deadline_s: float = 25.0
    # LLM_REDACT_PII: personal data is taken out of what the model reads to draft an answer or a search query
    # (never out of what routing and workflows read: a change of e-mail needs the address)
    redact_for_model: bool = False


class Core:
    def __init__(
        self,
        *,
        searcher: HybridSearcher,
        gaps: GapLog,
        escalation: Escalation,
        decisions: DecisionStore,
        conversations: ConversationStore,
        router: Router,
        workflows: WorkflowTurns,
        language_model: LanguageModel | None = None,
        unit_vectors: UnitVectorStore | None = None,
        config: CoreConfig = CoreConfig(),
    ) -> None:
        self._searcher = searcher
        self._gaps = gaps
        self._escalation = escalation
        self._decisions = decisions
        self._conversations = conversations
        self._router = router
        self._workflows = workflows
        self._config = config
        self._model = language_model
        self._template = load_prompt("answer") if language_model else None
        self._route_template = load_prompt("route") if language_model else None
        self._rewrite_template = load_prompt("rewrite") if language_model else None
        # the offline answerer compares units with the question in the search's own embedding space: the question's
        # vector is the search's (cached), the units' were stored at ingestion (`unit_vectors`)
        self._scorer = UnitScorer(searcher.embedder, unit_vectors)
        self._staff = StaffActions(escalation, decisions, conversations, gaps)

    @property
    def language_model(self) -> LanguageModel | None:
        """The model this core asks, if any (for /healthz)."""
        return self._model

    async def handle(self, inbound: InboundMessage | InboundAction) -> list[Outbound]:
        """One catch-all per inbound event: whatever fails, the person is told something true."""
        if isinstance(inbound, InboundAction):
            return await self._staff.handle(inbound)
        started = time.perf_counter()
        record = DecisionRecord(
            id=inbound.decision_id or new_decision_id(),
            conversation_key=inbound.conversation_key,
            org=inbound.org,
            platform=inbound.platform.value,
            author=inbound.author.id,
            inbound=inbound.text[:20_000],
        )
        ids = trace_ids()
        if ids is not None:
            record.trace_id, record.trace_span_id = ids
        with log_context(decision_id=record.id, conversation_key=inbound.conversation_key):
            outbound = await self._message_or_apology(inbound, record)
        record.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        record.outbound = encode(outbound)
        try:
            await self._decisions.save(record)
        except Exception:  # a lost record must not turn an answer into silence
            log.exception("could not save decision record %s", record.id)
        return outbound

    async def _message_or_apology(self, inbound: InboundMessage, record: DecisionRecord) -> list[Outbound]:
        try:
            return await self._message(inbound, record)
        except Exception as exc:  # the catch-all: log, record, tell the customer, bring in a person
            log.exception("turn %s failed", record.id)
            record.outcome, record.reply = "error", SORRY
            record.note(f"error: {type(exc).__name__}: {exc}")
            outbound: list[Outbound] = [Reply(inbound.conversation_key, SORRY, record.id)]
            # no hand-off, no promise: if it cannot be opened this raises, and a durable turn is retried
            return outbound + await self._handoff_after_error(inbound, record)

    async def _message(self, inbound: InboundMessage, record: DecisionRecord) -> list[Outbound]:
        conversation = await self._conversations.load(
            inbound.conversation_key, platform=inbound.platform.value, org=inbound.org
        )
        await self._conversations.add_turn(
            conversation.key,
            role=inbound.author.role.value,
            author=inbound.author.id,
            text=inbound.text[:20_000],
            decision_id=record.id,
        )
        if inbound.author.role in STAFF_ROLES:
            return await self._staff_spoke(inbound, conversation, record)
        if not conversation.bot_may_speak:
            record.outcome = "silent"
            record.note(f"{conversation.owner} owns this conversation; the bot stays quiet")
            return []
        text = " ".join(inbound.text.split())
        if not text:
            return await self._reply(
                record, conversation, "I didn't catch a question there. What can I help you with?", outcome="asked"
            )
        prefix = ""
        if len(text) > MAX_CHARS:
            text = text[:MAX_CHARS]
            prefix = f"Your message was very long, so I read only its first {MAX_CHARS:,} characters. "
            record.note(f"message truncated from {len(inbound.text):,} characters")
        outbound = await self._decide(inbound, conversation, record, text)
        if prefix and outbound and isinstance(outbound[0], Reply):
            first = outbound[0]
            parts = (AnswerPart(prefix.strip()), *first.parts) if first.parts else ()
            outbound[0] = replace(first, text=prefix + first.text, parts=parts)
        return outbound

    async def _decide(
        self, inbound: InboundMessage, conversation: Conversation, record: DecisionRecord, text: str
    ) -> list[Outbound]:
        deadline = Deadline(self._config.model_deadline_s)
        with tracer.start_as_current_span("route") as span:
            route, preset = await self._route(conversation, record, text, deadline=deadline)
            span.set_attributes(
                {"supportbot.route": route.label or "none", "supportbot.route.confidence": round(route.confidence, 4)}
            )
        record.route, record.route_confidence = route.label, round(route.confidence, 4)
        record.route_ranked = [[label, round(score, 4)] for label, score in route.ranked]
        if conversation.active_workflow and not self._switches(route, conversation):
            return await self._workflows.continue_workflow(inbound, conversation, record, text)
        if route.label == self._config.human_workflow:
            return await self._workflows.hand_off(
                inbound, conversation, record, reason="the customer asked for a person"
            )
        if route.label is not None and self._workflows.inputs_of(route.label) and self._confident(route):
            return await self._workflows.start(inbound, conversation, record, text, workflow=route.label, preset=preset)
        return await self._answer(inbound, conversation, record, text, route, deadline=deadline)

    async def _route(
        self, conversation: Conversation, record: DecisionRecord, text: str, *, deadline: Deadline
    ) -> tuple[Route, dict[str, Any]]:
        """The offline router's pick, combined with the model's when it routes with tools; the model's
        arguments for the workflow it picked, if that is the route."""
        route = await self._router.route(text)
        preset: dict[str, Any] = {}
        if self._model is not None and self._model.supports_tools is False and not conversation.active_workflow:
            record.note(NO_TOOLS_NOTE)  # no routing call: its reply would be text nobody can use
        elif self._model is not None and self._route_template is not None and not conversation.active_workflow:
            choice = await choose(
                self._model,
                self._route_template,
                text,
                history=await self._conversations.recent_turns(conversation.key, limit=6),
                workflows=self._workflows.input_models(),
                record=record,
                company=self._config.company,
                deadline=deadline,
            )
            decision = combined_route(choice, route, threshold=self._threshold_of, human=self._config.human_workflow)
            record.route_votes = decision.votes
            route = decision.route
            # the model's arguments belong to the workflow it picked, and only if that workflow is the route
            preset = choice.arguments if choice.workflow == route.label else {}
        return route, preset

    def _threshold_of(self, label: str) -> float | None:
        workflow = self._escalation.policy.workflow(label)
        return workflow.confidence_threshold if workflow is not None else None

    def _confident(self, route: Route) -> bool:
        workflow = self._escalation.policy.workflow(route.label or "")
        return workflow is not None and route.confidence >= workflow.confidence_threshold

    def _switches(self, route: Route, conversation: Conversation) -> bool:
        """A clear request for something else abandons the half-finished workflow."""
        return (
            route.label is not None
            and route.label != conversation.active_workflow
            and (self._workflows.inputs_of(route.label) is not None or route.label == self._config.human_workflow)
            and self._confident(route)
        )

    async def _answer(
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
            return await self._reply(
                record, conversation, answer, outcome="answered", citations=citations, buttons=buttons, parts=parts
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
        return await self._reply(
            record,
            conversation,
            message,
            outcome="not_sure",
            buttons=(Button(ActionKind.TALK_TO_HUMAN, "Talk to a human", record.id),),
        )

    def _threshold(self, workflow: str) -> float:
        policy = self._escalation.policy.workflow(workflow)
        return policy.confidence_threshold if policy else 0.6

    async def _staff_spoke(
        self, inbound: InboundMessage, conversation: Conversation, record: DecisionRecord
    ) -> list[Outbound]:
        """A staff member writing in a customer's conversation takes it over; the bot goes quiet."""
        record.outcome = "silent"
        if conversation.owner == BOT:
            await self._conversations.set_owner(conversation.key, inbound.author.id)
            record.note(f"{inbound.author.id} took the conversation over")
        return []

    async def _reply(
        self,
        record: DecisionRecord,
        conversation: Conversation,
        text: str,
        *,
        outcome: str,
        citations: tuple[Citation, ...] = (),
        buttons: tuple[Button, ...] = (),
        parts: tuple[AnswerPart, ...] = (),
    ) -> list[Outbound]:
        record.outcome, record.reply = outcome, text
        await self._conversations.add_turn(conversation.key, role="bot", author="bot", text=text, decision_id=record.id)
        return [Reply(conversation.key, text, record.id, citations, buttons, parts)]

    async def _handoff_after_error(self, inbound: InboundMessage, record: DecisionRecord) -> list[Outbound]:
        handoff = await self._escalation.handoffs.create(
            conversation_key=inbound.conversation_key,
            org=inbound.org,
            reason="the bot hit an error",
            summary=inbound.text[:500],
            decision_id=record.id,
            dedupe_key=f"error:{record.id}",
        )
        record.handoff_id = handoff.id
        return [HandoffNotice(handoff, f"The bot failed on a message in {inbound.conversation_key}; please take over.")]

    async def apologise(
        self, conversation_key: str, *, org: str | None, reason: str, dedupe_key: str | None = None
    ) -> list[Outbound]:
        """For a turn that failed outside `handle` (a time-out, an outage while looking up who wrote, a crash
        inside an earlier attempt): the customer is told a person will follow up, and a hand-off brings one
        in. Every apology is backed by a hand-off that exists: if it cannot be opened this raises, and the
        caller keeps the event to try again. `dedupe_key` opens it once however often the turn is re-run."""
        handoff = await self._escalation.handoffs.create(
            conversation_key=conversation_key,
            org=org,
            reason=reason,
            summary="the bot could not answer",
            dedupe_key=dedupe_key,
        )
        return [
            Reply(conversation_key, SORRY),
            HandoffNotice(handoff, f"The bot could not answer ({reason}); please take over."),
        ]

    async def unbound(self, unbound: Unbound, *, reply: bool) -> list[Outbound]:
        """Fail closed where no org is bound: no knowledge, a promise of a person, one hand-off per place."""
        outbound: list[Outbound] = [Reply(unbound.conversation_key, unbound.reply)] if reply else []
        handoff, opened = await self._escalation.handoffs.create_once(
            conversation_key=unbound.conversation_key,
            org=None,
            reason=f"a customer wrote in a {unbound.platform.value} place not connected to an org",
            summary=unbound.summary,
            dedupe_key=f"unbound:{unbound.platform.value}:{unbound.place}",
        )
        if opened:
            outbound.append(
                HandoffNotice(
                    handoff,
                    f"{unbound.summary}: not connected to an org, so the bot "
                    f"answered nothing there. {unbound.how_to_bind}",
                )
            )
        return outbound

    async def started(self, decision_id: str) -> bool:
        """Did an earlier attempt at this decision get as far as storing the customer's turn?"""
        return await self._conversations.has_turn(decision_id)

    async def decided_items(self, decision_id: str) -> list[Outbound] | None:
        """What an earlier attempt decided, when it got as far as saving its decision record."""
        record = await self._decisions.get(decision_id)
        if record is None or record.outbound is None:
            return None
        return decode(record.outbound)
