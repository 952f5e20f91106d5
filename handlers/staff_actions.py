"""Button clicks and commands: approve, deny, undo, take over, hand back, feedback, talk to a human."""

from __future__ import annotations

import logging

from escalation.errors import EscalationError
from escalation.models import ApprovalState
from escalation.service import Escalation
from handlers.conversations import BOT, ConversationStore
from handlers.decisions import DecisionStore
from handlers.models import (
    STAFF_ROLES,
    ActionKind,
    ApprovalRequest,
    HandoffNotice,
    InboundAction,
    Outbound,
    Reply,
    StaffNote,
)
from knowledge.gaps import GapLog, GapReason

log = logging.getLogger(__name__)


class StaffActions:
    def __init__(
        self, escalation: Escalation, decisions: DecisionStore, conversations: ConversationStore, gaps: GapLog
    ) -> None:
        self._escalation = escalation
        self._decisions = decisions
        self._conversations = conversations
        self._gaps = gaps

    async def handle(self, action: InboundAction) -> list[Outbound]:
        """Every click gets an answer: refusals are explained to the clicker (and audited by escalation)."""
        try:
            match action.kind:
                case ActionKind.APPROVE | ActionKind.DENY:
                    return await self._decide(action)
                case ActionKind.UNDO:
                    return await self._undo(action)
                case ActionKind.TAKE_OVER | ActionKind.HAND_BACK:
                    return await self._ownership(action)
                case ActionKind.HELPFUL | ActionKind.NOT_HELPFUL:
                    return await self._feedback(action)
                case ActionKind.TALK_TO_HUMAN:
                    return await self._talk_to_human(action)
        except EscalationError as exc:
            return [StaffNote(action.conversation_key, str(exc))]
        return [StaffNote(action.conversation_key, f"Unknown action {action.kind}.")]

    async def _decide(self, action: InboundAction) -> list[Outbound]:
        handoff = None
        if action.kind is ActionKind.APPROVE:
            amount = action.value.get("amount_cents")
            decision, handoff = await self._escalation.approve(
                action.target,
                action.actor,
                amount_cents=int(amount) if amount is not None else None,
                note=action.value.get("note"),
            )
        else:
            decision = await self._escalation.deny(
                action.target, action.actor, reason=str(action.value.get("reason", ""))
            )
        approval = decision.approval
        if approval.decision_id:
            await self._decisions.record_outcome(
                approval.decision_id,
                approver=action.actor.id,
                action_result=approval.result,
                note=f"{approval.state.value} after {action.kind.value} by {action.actor.id}",
            )
        outbound: list[Outbound] = [StaffNote(action.conversation_key, decision.message, changed=approval.id)]
        if approval.conversation_key:
            outbound.append(
                Reply(
                    approval.conversation_key, _customer_message(approval.state, approval.result), approval.decision_id
                )
            )
        if handoff:
            outbound.append(HandoffNotice(handoff, f"Please take over: {handoff.reason}"))
        return outbound

    async def _undo(self, action: InboundAction) -> list[Outbound]:
        undo = await self._escalation.request_undo(action.target, action.actor)
        return [ApprovalRequest(undo, f"Undo {action.target} ({undo.action})?", "undo requested", undo.decision_id)]

    async def _ownership(self, action: InboundAction) -> list[Outbound]:
        if action.actor.role not in STAFF_ROLES:
            return [StaffNote(action.conversation_key, "Only staff can take over or hand back a conversation.")]
        handoffs = self._escalation.handoffs
        if action.kind is ActionKind.TAKE_OVER:
            if action.target.startswith("hnd_"):
                await handoffs.claim(action.target, action.actor)
            await self._conversations.set_owner(action.conversation_key, action.actor.id)
            return [StaffNote(action.conversation_key, f"{action.actor.label} took the conversation over.")]
        if action.target.startswith("hnd_"):
            await handoffs.hand_back(action.target, action.actor)
        await self._conversations.set_owner(action.conversation_key, BOT)
        return [StaffNote(action.conversation_key, "The bot is answering in this conversation again.")]

    async def _feedback(self, action: InboundAction) -> list[Outbound]:
        helpful = action.kind is ActionKind.HELPFUL
        comment = action.value.get("comment")
        await self._decisions.add_feedback(action.target, author=action.actor.id, helpful=helpful, comment=comment)
        if not helpful:
            record = await self._decisions.get(action.target)
            if record is not None:
                await self._gaps.record(
                    record.inbound,
                    reason=GapReason.NEGATIVE_FEEDBACK,
                    org=action.org,
                    conversation_key=action.conversation_key,
                    detail=comment,
                )
        text = "Thanks for letting us know." if helpful else "Thanks, we'll use this to improve the answer."
        return [Reply(action.conversation_key, text)]

    async def _talk_to_human(self, action: InboundAction) -> list[Outbound]:
        handoff = await self._escalation.handoffs.create(
            conversation_key=action.conversation_key,
            org=action.org,
            workflow="talk_to_human",
            reason="the customer asked for a person",
            summary=f"requested by {action.actor.id}",
            decision_id=action.target if action.target.startswith("dec_") else None,
        )
        return [
            Reply(action.conversation_key, "I've asked a person from our team to join; they'll reply here shortly."),
            HandoffNotice(handoff, "A customer asked for a person."),
        ]


def _customer_message(state: ApprovalState, result: dict[str, object] | None) -> str:
    if state is ApprovalState.EXECUTED:
        return f"Good news: {(result or {}).get('summary', 'it is done')}."
    if state is ApprovalState.DENIED:
        return "A teammate reviewed your request and couldn't approve it. A person will follow up here to explain."
    return "Something went wrong while carrying out your request. A person from our team will follow up here."
