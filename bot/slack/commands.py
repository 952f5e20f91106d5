"""`/support status | handoff | connect ORG | disconnect | explain DECISION_ID | autonomy` — ephemeral answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.channels import ChannelStore, is_org_name
from bot.slack.delivery import PLATFORM, SlackDelivery, conversation_key
from bot.slack.messages import MessageHandler
from escalation.models import ApprovalState, Role
from escalation.service import Escalation
from handlers.models import HandoffNotice

log = logging.getLogger(__name__)

HELP = (
    "*/support* commands:\n"
    "• `status` — is this channel connected, and what is open\n"
    "• `handoff` — ask a person from the team to join\n"
    "Staff only: `connect ORG` · `disconnect` · `explain DECISION_ID` · `autonomy`"
)
STAFF_ONLY = "That command is for the support team."


class Commands:
    def __init__(
        self,
        *,
        channels: ChannelStore,
        escalation: Escalation,
        explain: Callable[[str], Awaitable[str]],
        messages: MessageHandler,
        delivery: SlackDelivery,
    ) -> None:
        self._channels = channels
        self._escalation = escalation
        self._explain = explain
        self._messages = messages
        self._delivery = delivery

    async def run(self, text: str, *, user: str, role: Role, channel: str, team: str | None) -> str:
        words = text.split()
        name, args = (words[0].lower(), words[1:]) if words else ("help", [])
        staff = role is not Role.CUSTOMER
        match name:
            case "status":
                return await self._status(channel, team=team, staff=staff)
            case "handoff":
                return await self._handoff(channel, user=user, team=team)
            case "connect" | "disconnect" | "explain" | "autonomy" if not staff:
                return STAFF_ONLY
            case "connect":
                return await self._connect(channel, args, user=user)
            case "disconnect":
                removed = await self._channels.unbind(PLATFORM, channel)
                await self._escalation.audit.record("channel_unbound", actor=user, detail={"channel": channel})
                return (
                    "This channel is no longer connected to an org." if removed else "This channel was not connected."
                )
            case "explain":
                if not args:
                    return "Usage: `/support explain DECISION_ID`"
                try:
                    return "```" + (await self._explain(args[0]))[:2900] + "```"
                except ValueError as exc:
                    return str(exc)
            case "autonomy":
                return await self._autonomy()
            case _:
                return HELP

    async def _status(self, channel: str, *, team: str | None, staff: bool) -> str:
        org = await self._messages.org_for(channel, None if staff else team)
        connected = f"connected to *{org}*" if org else "not connected to a customer org (the bot answers nothing here)"
        if not staff:
            return f"This channel is {connected}. Ask your question in the channel, or `/support handoff` for a person."
        pending = await self._escalation.list_approvals(states=(ApprovalState.PENDING,))
        handoffs = await self._escalation.handoffs.open_handoffs()
        return f"This channel is {connected}.\nPending approvals: {len(pending)} · open hand-offs: {len(handoffs)}"

    async def _handoff(self, channel: str, *, user: str, team: str | None) -> str:
        org = await self._messages.org_for(channel, team)
        handoff = await self._escalation.handoffs.create(
            conversation_key=conversation_key(channel, "channel"),
            org=org,
            workflow="talk_to_human",
            reason="asked for a person with /support handoff",
            summary=f"<@{user}> in <#{channel}>",
        )
        await self._delivery.deliver([HandoffNotice(handoff, f"<@{user}> asked for a person in <#{channel}>.")])
        return "A person from our team has been asked to join this channel."

    async def _connect(self, channel: str, args: list[str], *, user: str) -> str:
        if len(args) != 1 or not is_org_name(args[0]):
            return "Usage: `/support connect ORG` (lowercase letters, digits, `-`, `_` or `.`)"
        org = args[0].lower()
        await self._channels.bind(PLATFORM, channel, org, bound_by=user)
        await self._escalation.audit.record("channel_bound", actor=user, org=org, detail={"channel": channel})
        return f"This channel is now connected to *{org}*: the bot answers here from {org}'s knowledge."

    async def _autonomy(self) -> str:
        autonomy = self._escalation.autonomy
        lines = []
        for name in sorted(self._escalation.policy.workflows):
            workflow = self._escalation.policy.workflow(name)
            if workflow is None or not workflow.action:
                continue
            readiness = await autonomy.readiness(name)
            verdict = (
                f"ready for {readiness.next_stage.value}"
                if readiness.ready and readiness.next_stage
                else (readiness.blockers[0] if readiness.blockers else "")
            )
            lines.append(f"• `{name}`: *{readiness.stage.value}* — {verdict}")
        return "*Autonomy by workflow*\n" + ("\n".join(lines) or "No workflow takes actions.")
