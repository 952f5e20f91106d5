"""Plays scripted conversations through the real core, each step at its moment in the script.

Dating: the escalation package already takes a clock, so approvals, expiries and undo windows are decided
at the script's moment (an approval made "last Tuesday" expires 24 hours after last Tuesday). Everything else
(decision records, turns, hand-offs, audit rows) is stamped by PostgreSQL's now(): after each step, what it
stamped is moved back to the step's moment (`DemoRows.redate`), demo rows only. Nothing else is faked.
"""

from __future__ import annotations

import logging
import socket
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.demo.backend import DemoBackend
from bot.demo.script import (
    Act,
    AskForPerson,
    Claim,
    Close,
    Customer,
    Decide,
    Expire,
    Feedback,
    Say,
    ScriptedConversation,
    Undo,
)
from bot.demo.store import DemoRows
from escalation.executors import ActionRequest, ActionResult
from escalation.models import Actor, ApprovalState, Role
from escalation.service import Escalation
from escalation.webhook import WebhookExecutor
from handlers.core import Core
from handlers.models import (
    ActionKind,
    ApprovalRequest,
    HandoffNotice,
    InboundAction,
    InboundMessage,
    Outbound,
    Platform,
    Reply,
)
from handlers.turns import answer_now

log = logging.getLogger(__name__)

LEAD = Actor("demo-lena", Role.LEAD, frozenset({"support-leads"}), "Lena Park (demo lead)")
DECIDERS = {
    "refund": Actor("demo-maria", Role.STAFF, frozenset({"billing"}), "Maria Lopez (demo billing)"),
    "cancel_order": Actor("demo-sam", Role.STAFF, frozenset({"shipping"}), "Sam Ortiz (demo shipping)"),
    "change_email": Actor("demo-ines", Role.STAFF, frozenset({"security"}), "Ines Duarte (demo security)"),
}
AGENT = Actor("demo-omar", Role.STAFF, frozenset({"support-tier1"}), "Omar Haddad (demo agent)")
STAFF_CHANNEL = "demo:staff"
NOT_BEFORE_NOW = timedelta(minutes=5)  # a step later than this before now is left for real life


class ScriptClock:
    """The escalation clock during a demo: the moment of the step being played."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.moment


class OutageRouting:
    """The demo back end for every action, except the approvals the script sends to a webhook where nothing
    listens (a back end that is down): the real webhook executor tries, fails, and the action goes to a person."""

    name = "demo"

    def __init__(self, backend: DemoBackend) -> None:
        self._backend = backend
        with socket.socket() as probe:  # a port nothing listens on: the connection is refused at once
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self._webhook = WebhookExecutor(
            url=f"http://127.0.0.1:{port}/supportbot-demo",
            secret="demo-outage",  # noqa: S106 - nothing receives what it signs
            actions=backend.actions(),
            timeout=2.0,
            max_attempts=2,
            backoff_initial=0.05,
            backoff_max=0.1,
        )
        self.down_for: set[str] = set()  # approval ids

    def actions(self) -> frozenset[str]:
        return self._backend.actions()

    async def execute(self, request: ActionRequest) -> ActionResult:
        if request.approval_id in self.down_for:
            return await self._webhook.execute(request)
        return await self._backend.execute(request)

    async def close(self) -> None:
        await self._webhook.close()


@dataclass
class _Thread:
    """What the script's later steps refer to: the last answer, approval, executed action and hand-off."""

    answer: str | None = None  # the decision of the last reply with buttons, and which buttons it had
    buttons: set[ActionKind] = field(default_factory=set)
    approval: str | None = None
    executed: str | None = None
    handoff: str | None = None


@dataclass
class PlayStats:
    conversations: int = 0
    steps: int = 0
    left_for_later: int = 0  # steps that would lie in the future
    skipped: int = 0  # steps with nothing to act on (the core refused or handed off instead)
    outcomes: Counter[str] = field(default_factory=Counter)


class DemoPlayer:
    def __init__(
        self,
        core: Core,
        escalation: Escalation,
        rows: DemoRows,
        clock: ScriptClock,
        routing: OutageRouting,
        *,
        now: datetime,
    ) -> None:
        self._core, self._escalation, self._rows, self._clock = core, escalation, rows, clock
        self._routing = routing
        self._now = now
        self.stats = PlayStats()

    async def play(self, conversation: ScriptedConversation) -> None:
        thread = _Thread()
        for step in conversation.steps:
            moment = await self._moment(step.act, step.at, thread)
            if moment is None:
                self.stats.skipped += 1
                continue
            if moment > self._now - NOT_BEFORE_NOW:
                self.stats.left_for_later += 1
                break
            since = await self._rows.database_now()
            self._clock.moment = moment
            await self._do(step.act, conversation, thread)
            await self._rows.redate(since=since, to=moment)
            self.stats.steps += 1
        self.stats.conversations += 1

    async def _moment(self, act: Act, at: datetime, thread: _Thread) -> datetime | None:
        if not isinstance(act, Expire):
            return at
        approval = await self._escalation.approval(thread.approval) if thread.approval else None
        if approval is None or approval.state is not ApprovalState.PENDING:
            return None
        return approval.expires_at + timedelta(minutes=1)

    async def _do(self, act: Act, conversation: ScriptedConversation, thread: _Thread) -> None:
        customer = conversation.customer
        match act:
            case Say(text):
                inbound = InboundMessage(_platform(customer), customer.org, conversation.key, _person(customer), text)
                self._follow(await answer_now(self._core, inbound), thread)
            case Feedback(helpful, comment) if thread.answer and ActionKind.HELPFUL in thread.buttons:
                kind = ActionKind.HELPFUL if helpful else ActionKind.NOT_HELPFUL
                value = {"comment": comment} if comment else {}
                await self._click(conversation, _person(customer), kind, thread.answer, thread, value=value)
            case AskForPerson() if thread.answer and ActionKind.TALK_TO_HUMAN in thread.buttons:
                await self._click(conversation, _person(customer), ActionKind.TALK_TO_HUMAN, thread.answer, thread)
            case Decide() if thread.approval:
                await self._decide(act, conversation, thread)
            case Expire() if thread.approval:
                expired = await self._escalation.expire(thread.approval)
                if expired is not None:
                    thread.handoff = expired[1].id
            case Undo() if thread.executed:
                await self._undo(conversation, thread)
            case Claim() if thread.handoff:
                await self._click(conversation, AGENT, ActionKind.TAKE_OVER, thread.handoff, thread)
            case Close() if thread.handoff:
                await self._escalation.handoffs.close(thread.handoff, AGENT)
            case _:
                self.stats.skipped += 1

    async def _decide(self, act: Decide, conversation: ScriptedConversation, thread: _Thread) -> None:
        assert thread.approval is not None
        approval = await self._escalation.approval(thread.approval)
        if approval is None or approval.state is not ApprovalState.PENDING:
            self.stats.skipped += 1
            return
        decider = DECIDERS.get(approval.workflow, LEAD)
        if act.through_webhook:
            self._routing.down_for.add(approval.id)
        value: dict[str, object] = {}
        if act.approve and act.amount_cents is not None:
            value["amount_cents"] = act.amount_cents
        if not act.approve:
            value["reason"] = act.reason or "not approved"
        kind = ActionKind.APPROVE if act.approve else ActionKind.DENY
        await self._click(conversation, decider, kind, approval.id, thread, value=value, channel=STAFF_CHANNEL)
        decided = await self._escalation.approval(approval.id)
        if decided is not None:
            self.stats.outcomes[f"{approval.workflow} {decided.state.value}"] += 1
            if decided.state is ApprovalState.EXECUTED:
                thread.executed = decided.id

    async def _undo(self, conversation: ScriptedConversation, thread: _Thread) -> None:
        assert thread.executed is not None
        await self._click(conversation, LEAD, ActionKind.UNDO, thread.executed, thread, channel=STAFF_CHANNEL)
        self.stats.outcomes["undo requested"] += 1

    async def _click(
        self,
        conversation: ScriptedConversation,
        actor: Actor,
        kind: ActionKind,
        target: str,
        thread: _Thread,
        *,
        value: Mapping[str, object] | None = None,
        channel: str | None = None,
    ) -> list[Outbound]:
        customer = conversation.customer
        action = InboundAction(
            _platform(customer), customer.org, channel or conversation.key, actor, kind, target, dict(value or {})
        )
        outbound = await self._core.handle(action)
        self._follow(outbound, thread)
        return outbound

    @staticmethod
    def _follow(outbound: list[Outbound], thread: _Thread) -> None:
        for item in outbound:
            if isinstance(item, Reply) and item.decision_id and item.buttons:
                thread.answer, thread.buttons = item.decision_id, {button.kind for button in item.buttons}
            elif isinstance(item, ApprovalRequest):
                thread.approval = item.approval.id
            elif isinstance(item, HandoffNotice):
                thread.handoff = item.handoff.id


def _platform(customer: Customer) -> Platform:
    return Platform(customer.platform)


def _person(customer: Customer) -> Actor:
    return Actor(f"demo-{customer.id}", Role.CUSTOMER, display_name=f"{customer.name} (demo)")
