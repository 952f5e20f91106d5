"""Workflow turns: gather typed inputs over several messages, then let policy decide what happens."""

from __future__ import annotations

from typing import Any

from escalation.formatting import money
from escalation.models import ApprovalState, OutcomeKind, ProposedAction
from escalation.service import Escalation, ProposalResult
from handlers.conversations import Conversation, ConversationStore
from handlers.decisions import DecisionRecord
from handlers.errors import HandlersError
from handlers.grounding import CUSTOMER, LOOKUP, MODEL, ground
from handlers.models import ApprovalRequest, HandoffNotice, InboundMessage, Outbound, Reply
from handlers.tracing import tracer
from handlers.workflows import INPUT_MODELS, QUESTIONS, CustomerDirectory, extract, missing, validate

MAX_ASKS = 2
_ASKS = "_asks"
_CONFIDENCE = "_confidence"
_REQUEST = "_request"  # the message that started the workflow: what approvers read as "in their words"
_SOURCES = "_sources"  # input name -> where its value came from: customer | model | lookup


def describe_action(workflow: str, params: dict[str, Any]) -> str:
    match workflow:
        case "refund":
            return f"a refund of {money(params.get('amount_cents', 0))} for order {params.get('order_id')}"
        case "cancel_order":
            return f"cancelling order {params.get('order_id')}"
        case "change_email":
            return f"changing your account's email address to {params.get('new_email')}"
        case "order_status":
            return f"looking up order {params.get('order_id')}"
        case _:
            return workflow.replace("_", " ")


class WorkflowTurns:
    def __init__(
        self, escalation: Escalation, conversations: ConversationStore, *, directory: CustomerDirectory | None
    ) -> None:
        self._escalation = escalation
        self._conversations = conversations
        self._directory = directory

    def inputs_of(self, workflow: str | None) -> str | None:
        """The typed input model a workflow declares in the policy file, if the core knows it."""
        policy = self._escalation.policy.workflow(workflow or "")
        if policy is None or policy.action is None:
            return None
        name = policy.inputs or workflow
        return name if name in INPUT_MODELS else None

    def input_models(self) -> dict[str, str]:
        """Workflow name → input model name, for every workflow the core can run."""
        names = {name: self.inputs_of(name) for name in self._escalation.policy.workflows}
        return {name: model for name, model in names.items() if model is not None}

    async def start(
        self,
        inbound: InboundMessage,
        conversation: Conversation,
        record: DecisionRecord,
        text: str,
        *,
        workflow: str,
        preset: dict[str, Any] | None = None,
    ) -> list[Outbound]:
        fields = list(INPUT_MODELS[self._model(workflow)].model_fields)
        gathered: dict[str, Any] = {}
        sources: dict[str, str] = {}
        if preset:
            # a model's value stands only if the customer wrote it; otherwise it is asked for like any other
            said = await self._conversations.customer_texts(conversation.key)
            grounding = ground(preset, [*said, text])
            for why in grounding.dropped.values():
                record.note(f"dropped the model's {why}; the customer is asked instead")
            gathered.update(grounding.kept)
            sources.update(dict.fromkeys(grounding.kept, MODEL))
        if "reason" in fields and len(text.split()) >= 5:
            # the request itself usually says what went wrong, and in the customer's words, not a model's
            gathered["reason"], sources["reason"] = text[:500], CUSTOMER
        # what the customer literally wrote wins over a model's reading of it
        extracted = extract(text, wanted=fields)
        gathered.update(extracted)
        sources.update(dict.fromkeys(extracted, CUSTOMER))
        gathered[_SOURCES] = sources
        # the router's confidence in the request itself, not in the follow-up answers, is what policy judges
        gathered[_CONFIDENCE] = record.route_confidence or 0.0
        gathered[_REQUEST] = text[:2000]
        conversation.active_workflow, conversation.gathered, conversation.asked_for = workflow, gathered, None
        record.note(f"started {workflow} with {sorted(gathered)}")
        return await self._advance(inbound, conversation, record)

    def _model(self, workflow: str) -> str:
        name = self.inputs_of(workflow)
        if name is None:
            raise HandlersError(f"workflow {workflow} declares no input model the core knows ({sorted(INPUT_MODELS)})")
        return name

    async def continue_workflow(
        self, inbound: InboundMessage, conversation: Conversation, record: DecisionRecord, text: str
    ) -> list[Outbound]:
        workflow = conversation.active_workflow
        assert workflow is not None
        found = extract(
            text, wanted=list(INPUT_MODELS[self._model(workflow)].model_fields), asked_for=conversation.asked_for
        )
        record.note(f"router on this message alone: {record.route} {record.route_confidence or 0:.2f}")
        record.route = workflow
        record.route_confidence = float(conversation.gathered.get(_CONFIDENCE, 0.0))
        record.route_ranked = []
        if not found:
            asks = int(conversation.gathered.get(_ASKS, 0)) + 1
            if asks >= MAX_ASKS:
                return await self.hand_off(
                    inbound, conversation, record, reason=f"could not get {conversation.asked_for} for {workflow}"
                )
            conversation.gathered[_ASKS] = asks
        conversation.gathered.update(found)
        conversation.gathered[_SOURCES] = {**_sources_of(conversation), **dict.fromkeys(found, CUSTOMER)}
        record.note(f"continued {workflow}, found {sorted(found) or 'nothing'}")
        return await self._advance(inbound, conversation, record)

    async def _advance(
        self, inbound: InboundMessage, conversation: Conversation, record: DecisionRecord
    ) -> list[Outbound]:
        workflow = conversation.active_workflow
        assert workflow is not None
        inputs = {k: v for k, v in conversation.gathered.items() if not k.startswith("_")}
        record.input_sources = {name: _sources_of(conversation).get(name, CUSTOMER) for name in inputs}
        needed = missing(self._model(workflow), inputs)
        if needed:
            return await self._ask(conversation, record, needed[0])
        checked = validate(self._model(workflow), inputs)
        if checked.inputs is None:
            bad = checked.problems[0].split(":")[0]
            record.note(f"invalid input: {'; '.join(checked.problems)}")
            _forget(conversation, bad)
            return await self._ask(conversation, record, bad, prefix="That doesn't look right. ")
        params = checked.inputs.model_dump()
        if "order_id" in params and not await self._order_in_org(inbound, params["order_id"]):
            _forget(conversation, "order_id")
            record.note(f"order {params['order_id']} is not an order of {inbound.org}; asked again")
            return await self._ask(
                conversation, record, "order_id", prefix="I couldn't find an order with that number for your account. "
            )
        if self._model(workflow) == "change_email":
            resolved = await self._resolve_customer(inbound, conversation, record, params)
            if isinstance(resolved, list):
                return resolved
            params = resolved
        confidence = float(conversation.gathered.get(_CONFIDENCE, record.route_confidence or 0.0))
        request = str(conversation.gathered.get(_REQUEST) or inbound.text)
        return await self._propose(
            inbound, conversation, record, workflow, params, confidence=confidence, request_text=request
        )

    async def _order_in_org(self, inbound: InboundMessage, order_id: str) -> bool:
        """Never propose an action on another org's order: a card naming it would show an approver (and the
        customer) that it exists. Without a back end to ask, or outside an org, the executor decides."""
        if self._directory is None or inbound.org is None:
            return True
        order = await self._directory.get_order(order_id)
        owner = await self._directory.customer(order.customer_id) if order is not None else None
        return owner is not None and owner.org == inbound.org

    async def _resolve_customer(
        self, inbound: InboundMessage, conversation: Conversation, record: DecisionRecord, params: dict[str, Any]
    ) -> dict[str, Any] | list[Outbound]:
        customer = await self._directory.find_customer_by_email(params["current_email"]) if self._directory else None
        # never act on an account that belongs to another org than the one this conversation is scoped to
        if customer is None or (inbound.org is not None and customer.org != inbound.org):
            _forget(conversation, "current_email")
            record.note("no account with that email in this org")
            return await self._ask(
                conversation, record, "current_email", prefix="I couldn't find an account with that email address. "
            )
        sources = _sources_of(conversation)
        sources["customer_id"] = LOOKUP  # found by the address the customer gave
        conversation.gathered[_SOURCES] = sources
        return {"customer_id": customer.id, "new_email": params["new_email"]}

    async def _propose(
        self,
        inbound: InboundMessage,
        conversation: Conversation,
        record: DecisionRecord,
        workflow: str,
        params: dict[str, Any],
        *,
        confidence: float,
        request_text: str,
    ) -> list[Outbound]:
        policy = self._escalation.policy.workflow(workflow)
        assert policy is not None and policy.action is not None
        amount = params.get("amount_cents")
        sources = _sources_of(conversation)
        record.input_sources = {name: sources.get(name, CUSTOMER) for name in params}
        proposal = ProposedAction(
            workflow=workflow,
            action=policy.action,
            params=params,
            requested_by=inbound.author.id,
            org=inbound.org,
            conversation_key=conversation.key,
            decision_id=record.id,
            confidence=confidence,
            amount_cents=amount if isinstance(amount, int) else None,
            customer_tier=await self._tier_of(params),
            request_text=request_text,
            input_sources=record.input_sources,
        )
        record.tool_calls.append(
            {"workflow": workflow, "action": policy.action, "params": params, "sources": record.input_sources}
        )
        with tracer.start_as_current_span(f"execute_tool {policy.action}") as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": policy.action,
                    "supportbot.workflow": workflow,
                    "supportbot.input_sources": sorted(f"{k}={v}" for k, v in record.input_sources.items()),
                }
            )
            result = await self._escalation.propose(proposal, summary=f"{inbound.author.id}: {inbound.text[:300]}")
            span.set_attribute("supportbot.policy.outcome", result.outcome.kind.value)
        self._record_outcome(record, result)
        conversation.active_workflow, conversation.gathered, conversation.asked_for = None, {}, None
        await self._conversations.save(conversation)
        return self._outbound(conversation, record, workflow, params, result)

    async def _tier_of(self, params: dict[str, Any]) -> str | None:
        """The customer's tier (the policy may require approval for a tier, e.g. business), from the back end."""
        if self._directory is None:
            return None
        customer_id = params.get("customer_id")
        if customer_id is None and "order_id" in params:
            order = await self._directory.get_order(str(params["order_id"]))
            customer_id = order.customer_id if order is not None else None
        customer = await self._directory.customer(str(customer_id)) if customer_id else None
        tier = getattr(customer, "tier", None)
        return str(tier) if tier else None

    @staticmethod
    def _record_outcome(record: DecisionRecord, result: ProposalResult) -> None:
        record.policy_outcome, record.policy_rule = result.outcome.kind.value, result.outcome.rule
        record.policy_reason = result.outcome.reason
        if result.approval:
            record.approval_id = result.approval.id
            record.approver = result.approval.decided_by
            record.action_result = result.approval.result
        if result.handoff:
            record.handoff_id = result.handoff.id

    def _outbound(
        self,
        conversation: Conversation,
        record: DecisionRecord,
        workflow: str,
        params: dict[str, Any],
        result: ProposalResult,
    ) -> list[Outbound]:
        what = describe_action(workflow, params)
        kind, approval = result.outcome.kind, result.approval
        extra: list[Outbound] = []
        if kind is OutcomeKind.ACT and approval and approval.state is ApprovalState.EXECUTED:
            record.outcome = "acted"
            text = (approval.result or {}).get("summary") or f"Done: {what}."
        elif kind is OutcomeKind.NEEDS_APPROVAL and approval:
            record.outcome = "proposed"
            text = f"I've asked a teammate to approve {what}. I'll update you here as soon as they decide."
            extra.append(ApprovalRequest(approval, f"Approve {what}?", result.outcome.reason, record.id))
        elif kind is OutcomeKind.REFUSE:
            record.outcome = "refused"
            text = f"I can't do {what} here. Would you like me to bring in a person from our team?"
        else:  # a hand-off, or an action that failed and went to a person
            record.outcome = "handed_off"
            text = f"I've passed {what} to a person on our team, who will pick it up here."
        if result.handoff:
            extra.append(HandoffNotice(result.handoff, f"Please take over: {result.handoff.reason}"))
        record.reply = text
        return [Reply(conversation.key, text, record.id), *extra]

    async def _ask(
        self, conversation: Conversation, record: DecisionRecord, field: str, *, prefix: str = ""
    ) -> list[Outbound]:
        conversation.asked_for = field
        await self._conversations.save(conversation)
        text = prefix + QUESTIONS.get(field, f"Could you tell me the {field.replace('_', ' ')}?")
        record.outcome, record.reply = "asked", text
        return [Reply(conversation.key, text, record.id)]

    async def hand_off(
        self, inbound: InboundMessage, conversation: Conversation, record: DecisionRecord, *, reason: str
    ) -> list[Outbound]:
        turns = await self._conversations.recent_turns(conversation.key, limit=8)
        summary = " | ".join(f"{role} {author}: {text[:160]}" for role, author, text in turns)
        handoff = await self._escalation.handoffs.create(
            conversation_key=conversation.key,
            org=inbound.org,
            workflow=conversation.active_workflow or "talk_to_human",
            reason=reason,
            summary=summary or inbound.text[:500],
            decision_id=record.id,
        )
        conversation.active_workflow, conversation.gathered, conversation.asked_for = None, {}, None
        await self._conversations.save(conversation)
        record.outcome, record.handoff_id = "handed_off", handoff.id
        record.reply = "I've asked a person from our team to join; they'll reply here shortly."
        return [Reply(conversation.key, record.reply, record.id), HandoffNotice(handoff, f"Please take over: {reason}")]


def _sources_of(conversation: Conversation) -> dict[str, str]:
    stored = conversation.gathered.get(_SOURCES)
    return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}


def _forget(conversation: Conversation, name: str) -> None:
    """An input that has to be asked again: its value and where it came from both go."""
    conversation.gathered.pop(name, None)
    sources = _sources_of(conversation)
    sources.pop(name, None)
    conversation.gathered[_SOURCES] = sources
