"""The conversation core: `await core.handle(inbound) -> list[Outbound]`, the same for every channel."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from escalation.service import Escalation
from handlers.conversations import BOT, Conversation, ConversationStore
from handlers.core_config import DEFAULT_CONFIG, CoreConfig
from handlers.decisions import DecisionRecord, DecisionStore, new_decision_id
from handlers.knowledge_turns import KnowledgeTurns
from handlers.llm import Deadline, LanguageModel
from handlers.models import (
    STAFF_ROLES,
    AnswerPart,
    HandoffNotice,
    InboundAction,
    InboundMessage,
    Outbound,
    Reply,
    Unbound,
)
from handlers.outbound_codec import decode, encode
from handlers.ports import Route, Router
from handlers.prompts import load_prompt
from handlers.replies import say
from handlers.staff_actions import StaffActions
from handlers.tool_routing import choose, combined_route
from handlers.tracing import log_context, trace_ids, tracer
from handlers.unit_vectors import UnitVectorStore
from handlers.workflow_turns import WorkflowTurns
from knowledge.gaps import GapLog
from knowledge.search import HybridSearcher

log = logging.getLogger(__name__)

MAX_CHARS = 4000
SORRY = "Sorry, something went wrong on our side. A person from our team will follow up here shortly."
NO_TOOLS_NOTE = "the model does not call tools; the offline router routes"


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
        config: CoreConfig = DEFAULT_CONFIG,
    ) -> None:
        self._escalation = escalation
        self._decisions = decisions
        self._conversations = conversations
        self._router = router
        self._workflows = workflows
        self._config = config
        self._model = language_model
        self._route_template = load_prompt("route") if language_model else None
        self._knowledge = KnowledgeTurns(
            searcher=searcher,
            gaps=gaps,
            escalation=escalation,
            conversations=conversations,
            language_model=language_model,
            unit_vectors=unit_vectors,
            config=config,
        )
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
            return await say(
                self._conversations,
                record,
                conversation,
                "I didn't catch a question there. What can I help you with?",
                outcome="asked",
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
        return await self._knowledge.answer(inbound, conversation, record, text, route, deadline=deadline)

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

    async def _staff_spoke(
        self, inbound: InboundMessage, conversation: Conversation, record: DecisionRecord
    ) -> list[Outbound]:
        """A staff member writing in a customer's conversation takes it over; the bot goes quiet."""
        record.outcome = "silent"
        if conversation.owner == BOT:
            await self._conversations.set_owner(conversation.key, inbound.author.id)
            record.note(f"{inbound.author.id} took the conversation over")
        return []

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
