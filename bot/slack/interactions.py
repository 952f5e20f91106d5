"""Button clicks and modal submissions → `InboundAction`s for the core; cards updated after decisions."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.presentation import words
from bot.presentation.approval import CardContext, approval_card, parse_amount
from bot.slack import render
from bot.slack.delivery import SEND_ERRORS, Clicker, SlackDelivery, conversation_key
from bot.slack.identity import SlackDirectory
from bot.slack.messages import MessageHandler
from escalation.errors import EscalationError
from escalation.models import Actor
from escalation.service import Escalation
from escalation.stage_change import digest_button
from handlers.click_trace import decision_click
from handlers.core import Core
from handlers.decisions import DecisionStore
from handlers.models import ActionKind, InboundAction, Platform, StaffNote

log = logging.getLogger(__name__)


class SlackInteractions:
    def __init__(
        self,
        *,
        core: Core,
        delivery: SlackDelivery,
        directory: SlackDirectory,
        messages: MessageHandler,
        escalation: Escalation,
        decisions: DecisionStore,
    ) -> None:
        self._decisions = decisions
        self._core = core
        self._delivery = delivery
        self._directory = directory
        self._messages = messages
        self._escalation = escalation

    async def actor(self, body: dict[str, Any], installing_team: str | None) -> Actor:
        user = body.get("user") or {}
        team = user.get("team_id") or (body.get("team") or {}).get("id")
        return await self._directory.actor(str(user.get("id")), team_id=team, installing_team=installing_team)

    async def on_button(self, body: dict[str, Any], action: dict[str, Any], installing_team: str | None) -> None:
        """Runs after the ack. One catch-all: the clicker always hears what happened."""
        actor = await self.actor(body, installing_team)
        container = body.get("container") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "") or None
        message_ts = container.get("message_ts")
        thread_ts = container.get("thread_ts") or message_ts
        clicker = Clicker(actor.id, channel, container.get("thread_ts"))
        action_id, target = str(action.get("action_id")), str(action.get("value") or "")
        try:
            if action_id in (render.APPROVE_WITH_CHANGES, render.action_id(ActionKind.DENY)):
                await self._open_decide_modal(
                    body, target, deny=action_id != render.APPROVE_WITH_CHANGES, clicker=clicker
                )
            elif action_id == render.action_id(ActionKind.NOT_HELPFUL):
                await self._open_feedback_modal(body, target, actor=actor, clicker=clicker, thread_ts=thread_ts)
            elif action_id == render.HANDOFF_CLOSE:
                await self._escalation.handoffs.close(target, actor)
                await self._delivery.refresh_handoff(target)
            else:
                kind = ActionKind(action_id.removeprefix(render.ACTION_PREFIX))
                key = await self._conversation_of(target, channel=channel, thread_ts=thread_ts)
                await self.act(kind, target, actor=actor, clicker=clicker, key=key, channel=channel)
        except EscalationError as exc:
            await self._tell(clicker, str(exc))
        except Exception:
            log.exception("Slack action %s on %s failed", action_id, target)
            await self._tell(clicker, words.CLICK_FAILED)

    async def act(
        self,
        kind: ActionKind,
        target: str,
        *,
        actor: Actor,
        clicker: Clicker,
        key: str,
        channel: str | None,
        value: dict[str, Any] | None = None,
    ) -> None:
        org = await self._messages.org_for(channel, None) if channel else None
        inbound = InboundAction(Platform.SLACK, org, key, actor, kind, target, value or {})
        if target.startswith("apr_"):
            # in the trace of the turn that asked for the approval, linked to this click's request
            async with decision_click(self._decisions, target, verb=kind.value):
                items = await self._core.handle(inbound)
                await self._delivery.deliver(items, clicker=clicker)
                # only the click that changed the approval refreshes its card: a refused click, or one that lost
                # the race to another approver, saw the approval move but did not move it (no card re-render)
                if any(isinstance(item, StaffNote) and item.changed == target for item in items):
                    await self._delivery.refresh_approval(target)
            return
        before = await self._state_of(target) if target.startswith("hnd_") else None
        items = await self._core.handle(inbound)
        await self._delivery.deliver(items, clicker=clicker)
        if target.startswith("hnd_") and await self._state_of(target) != before:
            await self._delivery.refresh_handoff(target)

    async def _state_of(self, target: str) -> str:
        handoff = await self._escalation.handoffs.get(target)
        return f"{handoff.state.value}:{handoff.claimed_by}"

    async def _conversation_of(self, target: str, *, channel: str | None, thread_ts: str | None) -> str:
        """Buttons on staff cards act on the customer's conversation, not on the staff channel."""
        if target.startswith("apr_"):
            approval = await self._escalation.approval(target)
            if approval and approval.conversation_key:
                return approval.conversation_key
        if target.startswith("hnd_"):
            return (await self._escalation.handoffs.get(target)).conversation_key
        return conversation_key(channel or "unknown", thread_ts or "unknown")

    async def _open_decide_modal(self, body: dict[str, Any], approval_id: str, *, deny: bool, clicker: Clicker) -> None:
        approval = await self._escalation.approval(approval_id)
        if approval is None:
            await self._tell(clicker, words.gone(approval_id))
            return
        meta = json.dumps({"approval": approval_id, "deny": deny, "channel": clicker.channel})
        card = approval_card(approval, CardContext(reason=approval.rule))
        await self._delivery.client.views_open(
            trigger_id=body["trigger_id"], view=render.decide_modal(card, deny=deny, private_metadata=meta)
        )

    async def _open_feedback_modal(
        self, body: dict[str, Any], decision_id: str, *, actor: Actor, clicker: Clicker, thread_ts: str | None
    ) -> None:
        channel = clicker.channel
        meta = json.dumps({"decision": decision_id, "channel": channel, "thread_ts": thread_ts})
        try:
            await self._delivery.client.views_open(
                trigger_id=body["trigger_id"], view=render.not_helpful_modal(decision_id, private_metadata=meta)
            )
        except SEND_ERRORS as exc:  # no modal: the feedback still counts, just without a comment
            log.warning("could not open the feedback modal: %s", exc)
            key = conversation_key(channel or "unknown", thread_ts or "unknown")
            await self.act(ActionKind.NOT_HELPFUL, decision_id, actor=actor, clicker=clicker, key=key, channel=channel)

    @staticmethod
    def validate_decision(view: dict[str, Any]) -> dict[str, str] | None:
        """Field errors for Slack to show in the modal, or None when it may be submitted."""
        meta = json.loads(view.get("private_metadata") or "{}")
        values = _values(view)
        if meta.get("deny"):
            if not values.get("reason", "").strip():
                return {"reason": words.DENY_REASON_MISSING}
        elif parse_amount(values.get("amount", "")) is None:
            return {"amount": words.AMOUNT_EXAMPLE}
        return None

    async def on_decide_submission(
        self, body: dict[str, Any], view: dict[str, Any], installing_team: str | None
    ) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        values = _values(view)
        if meta.get("deny"):
            kind, value = ActionKind.DENY, dict[str, Any](reason=values.get("reason", "").strip())
        else:
            amount = parse_amount(values.get("amount", ""))
            kind, value = ActionKind.APPROVE, {"amount_cents": amount, "note": values.get("note") or None}
        await self._submit(body, meta, kind, value, installing_team)

    async def on_digest_button(self, body: dict[str, Any], action: dict[str, Any], installing_team: str | None) -> None:
        """Promote / Demote from the weekly digest: leads only, audited by escalation."""
        actor = await self.actor(body, installing_team)
        container = body.get("container") or {}
        clicker = Clicker(actor.id, container.get("channel_id"), container.get("message_ts"))
        try:
            message = await digest_button(self._escalation.autonomy, actor, str(action.get("value") or "{}"))
        except ValueError as exc:  # not even JSON
            message = words.out_of_date(str(exc))
        except EscalationError as exc:
            message = str(exc)
        await self._tell(clicker, message)

    async def on_feedback_submission(
        self, body: dict[str, Any], view: dict[str, Any], installing_team: str | None
    ) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        comment = _values(view).get("comment") or None
        await self._submit(
            body, meta, ActionKind.NOT_HELPFUL, {"comment": comment}, installing_team, target=str(meta.get("decision"))
        )

    async def _submit(
        self,
        body: dict[str, Any],
        meta: dict[str, Any],
        kind: ActionKind,
        value: dict[str, Any],
        installing_team: str | None,
        *,
        target: str | None = None,
    ) -> None:
        actor = await self.actor(body, installing_team)
        channel = meta.get("channel")
        clicker = Clicker(actor.id, channel, meta.get("thread_ts"))
        subject = target or str(meta.get("approval"))
        try:
            key = await self._conversation_of(subject, channel=channel, thread_ts=meta.get("thread_ts"))
            await self.act(kind, subject, actor=actor, clicker=clicker, key=key, channel=channel, value=value)
        except Exception:
            log.exception("Slack modal %s on %s failed", kind, subject)
            await self._tell(clicker, words.CLICK_FAILED)

    async def _tell(self, clicker: Clicker, text: str) -> None:
        try:
            await self._delivery.tell_privately(clicker, text)
        except (SlackApiError, *SEND_ERRORS) as exc:
            log.warning("could not tell %s: %s (%s)", clicker.user, text, exc)


def _values(view: dict[str, Any]) -> dict[str, str]:
    """{block_id: typed value} from a submitted modal."""
    state = (view.get("state") or {}).get("values") or {}
    return {block: str((fields.get("value") or {}).get("value") or "") for block, fields in state.items()}
