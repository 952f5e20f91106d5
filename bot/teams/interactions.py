"""Universal Actions (`Action.Execute` invokes): approve, approve with changes, deny, undo, take over, hand back,
close, feedback.

We answer invokes ourselves (`InvokeResponse` with a plain dict body, serialised by our HTTP handler), so
`ActivityHandler`'s adaptive-card path and its double serialisation in `CloudAdapter` are never used."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes

from bot.presentation import words
from bot.presentation.approval import CardContext, approval_card, parse_amount
from bot.presentation.handoff import handoff_card
from bot.teams import render
from bot.teams.delivery import TeamsDelivery
from bot.teams.turns import TurnFacts, Who
from escalation.errors import EscalationError
from escalation.models import Approval, ApprovalState, Handoff, Role
from escalation.service import Escalation
from escalation.stage_change import DEMOTE, PROMOTE, digest_button
from handlers.click_trace import decision_click
from handlers.core import Core
from handlers.decisions import DecisionStore
from handlers.models import ActionKind, InboundAction, Outbound, Platform, Reply, StaffNote

log = logging.getLogger(__name__)

INVOKE_NAME = "adaptiveCard/action"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
ERROR_TYPE = "application/vnd.microsoft.error"

_ON_APPROVALS = {render.APPROVE, render.APPROVE_CHANGES, render.DENY, render.UNDO, render.REFRESH}
# Take over is also on approval cards (their data names the conversation); the others only on hand-off cards
_ON_HANDOFFS = {render.TAKE_OVER, render.HAND_BACK, render.CLOSE}
_FEEDBACK = {
    render.HELPFUL: ActionKind.HELPFUL,
    render.NOT_HELPFUL: ActionKind.NOT_HELPFUL,
    render.TALK_TO_HUMAN: ActionKind.TALK_TO_HUMAN,
}


def card_response(content: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "type": render.CARD_CONTENT_TYPE, "value": content}


def message_response(text: str) -> dict[str, Any]:
    return {"statusCode": 200, "type": MESSAGE_TYPE, "value": text}


def error_response(status: int, text: str) -> dict[str, Any]:
    return {"statusCode": status, "type": ERROR_TYPE, "value": {"code": "BadRequest", "message": text}}


async def respond(context: TurnContext, body: dict[str, Any], *, status: int = 200) -> None:
    await context.send_activity(
        Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=status, body=body))
    )


class TeamsInteractions:
    def __init__(
        self, core: Core, escalation: Escalation, facts: TurnFacts, delivery: TeamsDelivery, *, decisions: DecisionStore
    ) -> None:
        self._core = core
        self._escalation = escalation
        self._facts = facts
        self._delivery = delivery
        self._decisions = decisions

    async def handle(self, context: TurnContext, *, duplicate: bool = False) -> None:
        activity = context.activity
        value = activity.value if isinstance(activity.value, dict) else {}
        action = value.get("action") if isinstance(value.get("action"), dict) else None
        if activity.name != INVOKE_NAME or action is None or not isinstance(action.get("verb"), str):
            await respond(context, error_response(400, "Unsupported invoke."), status=400)
            return
        data = action.get("data") if isinstance(action.get("data"), dict) else {}
        try:
            body = await self._execute(context, str(action["verb"]), data, duplicate=duplicate)
        except Exception:  # the catch-all for a click: the clicker is told, nothing half-silent
            log.exception("Teams invoke %s failed", activity.id)
            body = message_response(words.CLICK_FAILED)
        await respond(context, body)

    async def _execute(
        self, context: TurnContext, verb: str, data: dict[str, Any], *, duplicate: bool
    ) -> dict[str, Any]:
        who = await self._facts.who(context)
        if verb in _ON_APPROVALS and data.get("approval"):
            if duplicate or verb == render.REFRESH:  # a redelivered click sees the card as it stands
                return await self._current_approval_card(data)
            return await (self._undo(who, data) if verb == render.UNDO else self._decide(who, verb, data))
        if verb in _ON_HANDOFFS and data.get("handoff" if verb != render.TAKE_OVER else "conversation"):
            if duplicate:
                return message_response(words.ALREADY_DONE)
            return await (
                self._take_over(who, data) if verb == render.TAKE_OVER else self._move_handoff(who, verb, data)
            )
        if verb in {PROMOTE, DEMOTE}:
            if duplicate:
                return message_response(words.ALREADY_DONE)
            # leads only; change_stage refuses others with a reason, and audits the change
            try:
                return message_response(await digest_button(self._escalation.autonomy, who.actor, data))
            except EscalationError as exc:
                return message_response(str(exc))
        if verb in _FEEDBACK and data.get("target"):
            if duplicate:
                return message_response(words.ALREADY_HAVE_FEEDBACK)
            return await self._feedback(who, _FEEDBACK[verb], str(data["target"]))
        return error_response(400, words.BUTTON_NOT_UNDERSTOOD)

    async def _current_approval_card(self, data: dict[str, Any]) -> dict[str, Any]:
        approval = await self._escalation.approval(str(data["approval"]))
        if approval is None:
            return message_response(words.gone(str(data["approval"])))
        return card_response(await self._approval_card(approval, data))

    async def _approval_card(self, approval: Approval, data: dict[str, Any]) -> dict[str, Any]:
        """The card as it stands now, whoever asks: the decider by name when we have seen them."""
        context = CardContext(
            reason=str(data.get("why", "")),
            summary=str(data.get("summary", "")),
            decided_by=await self._facts.name_of(approval.decided_by),
            undoable=self._escalation.undoable(approval),
        )
        return render.approval_card(approval_card(approval, context))

    async def _decide(self, who: Who, verb: str, data: dict[str, Any]) -> dict[str, Any]:
        # customers and non-approvers are refused (and audited) by escalation: one trail for every refusal
        kind, value = ActionKind.APPROVE, dict[str, Any]()
        note = str(data.get("reason") or "").strip()
        if verb == render.DENY:
            if not note:
                return message_response(words.DENY_REASON_MISSING)
            kind, value = ActionKind.DENY, {"reason": note}
        elif verb == render.APPROVE_CHANGES:
            amount = parse_amount(str(data.get("amount") or ""))
            if amount is None:
                return message_response(words.AMOUNT_EXAMPLE)
            value = {"amount_cents": amount, **({"note": note} if note else {})}
        elif note:
            value = {"note": note}
        approval_id = str(data["approval"])
        # in the trace of the turn that asked for the approval, linked to this click's request
        async with decision_click(self._decisions, approval_id, verb=verb):
            return await self._decided(who, kind, approval_id, value, data)

    async def _decided(
        self, who: Who, kind: ActionKind, approval_id: str, value: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        action = InboundAction(Platform.TEAMS, None, who.key, who.actor, kind, approval_id, value)
        outbound = await self._core.handle(action)
        approval = await self._escalation.approval(approval_id)
        notes = [item.text for item in outbound if isinstance(item, StaffNote)]
        if approval is None or approval.state is ApprovalState.PENDING:
            return message_response(" ".join(notes) or words.NOTHING_CHANGED)  # refused or invalid: card stays
        # only the click that changed the approval updates the card for everyone; one that was refused or lost
        # the race to another approver is answered with the card as it stands, for the clicker alone
        decided_here = any(isinstance(item, StaffNote) and item.changed == approval_id for item in outbound)
        content = await self._approval_card(approval, data)
        # the customer's reply and any hand-off go out; the clicker's note is the refreshed card itself
        await self._delivery.deliver([item for item in outbound if not isinstance(item, StaffNote)])
        if decided_here:
            await self._update_everywhere(approval_id, content, version=approval.version)
        return card_response(content)

    async def _update_everywhere(self, item_id: str, content: dict[str, Any], *, version: int | None = None) -> None:
        try:
            await self._delivery.update_card(item_id, content, version=version)
        except Exception as exc:  # the clicker already sees the new card; others see it on refresh
            log.warning("could not update the card of %s in place: %s", item_id, exc)

    async def _undo(self, who: Who, data: dict[str, Any]) -> dict[str, Any]:
        """Undo asks for its own approval: a new card in the staff channel; this card stays as it is."""
        approval_id = str(data["approval"])
        key = str(data.get("conversation") or who.key)
        action = InboundAction(Platform.TEAMS, None, key, who.actor, ActionKind.UNDO, approval_id)
        async with decision_click(self._decisions, approval_id, verb=render.UNDO):
            outbound = await self._core.handle(action)
        notes = [item.text for item in outbound if isinstance(item, StaffNote)]
        await self._delivery.deliver([item for item in outbound if not isinstance(item, StaffNote)])
        return message_response(" ".join(notes) or words.UNDO_ASKED)

    async def _take_over(self, who: Who, data: dict[str, Any]) -> dict[str, Any]:
        customer_key = str(data["conversation"])
        handoff_id = str(data.get("handoff") or "")
        target = handoff_id or customer_key
        action = InboundAction(Platform.TEAMS, None, customer_key, who.actor, ActionKind.TAKE_OVER, target)
        outbound = await self._core.handle(action)
        notes = " ".join(item.text for item in outbound if isinstance(item, StaffNote))
        if who.actor.role is Role.CUSTOMER or not handoff_id:
            return message_response(notes or words.DONE)
        return await self._handoff_card(who, await self._escalation.handoffs.get(handoff_id), data)

    async def _move_handoff(self, who: Who, verb: str, data: dict[str, Any]) -> dict[str, Any]:
        """Hand back (the bot answers again) or close; a refused or stale click leaves the card as it is."""
        handoff_id = str(data["handoff"])
        handoffs = self._escalation.handoffs
        if verb == render.CLOSE:
            try:
                return await self._handoff_card(who, await handoffs.close(handoff_id, who.actor), data)
            except EscalationError as exc:
                return message_response(str(exc))
        before = await handoffs.get(handoff_id)
        key = str(data.get("conversation") or before.conversation_key)
        action = InboundAction(Platform.TEAMS, None, key, who.actor, ActionKind.HAND_BACK, handoff_id)
        outbound = await self._core.handle(action)  # a refusal comes back as a note
        await self._delivery.deliver([item for item in outbound if not isinstance(item, StaffNote)])
        after = await handoffs.get(handoff_id)
        if (after.state, after.claimed_by) == (before.state, before.claimed_by):
            notes = " ".join(item.text for item in outbound if isinstance(item, StaffNote))
            return message_response(notes or words.NOTHING_CHANGED)
        return await self._handoff_card(who, after, data)

    async def _handoff_card(self, who: Who, handoff: Handoff, data: dict[str, Any]) -> dict[str, Any]:
        """The hand-off's card as it stands now, updated for everyone and returned to the clicker."""
        # the person who claimed it by name, when it was this clicker (the hand-off keeps their id)
        name = who.actor.label if handoff.claimed_by == who.actor.id else None
        content = render.handoff_card(handoff_card(handoff, text=str(data.get("summary", "")), claimed_by=name))
        await self._update_everywhere(handoff.id, content)
        return card_response(content)

    async def _feedback(self, who: Who, kind: ActionKind, target: str) -> dict[str, Any]:
        org = await self._facts.org_for(who)
        action = InboundAction(Platform.TEAMS, org, who.key, who.actor, kind, target)
        outbound = await self._core.handle(action)
        here = [item.text for item in outbound if isinstance(item, Reply) and item.conversation_key == who.key]
        elsewhere: list[Outbound] = [
            item for item in outbound if not (isinstance(item, Reply) and item.conversation_key == who.key)
        ]
        await self._delivery.deliver([item for item in elsewhere if not isinstance(item, StaffNote)])
        if kind is ActionKind.TALK_TO_HUMAN and here:
            # everyone in the chat should see that a person is coming, not only the clicker
            await self._delivery.deliver([Reply(who.key, here[0])])
        return message_response(" ".join(here) or words.THANKS)
