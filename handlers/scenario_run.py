"""Runs scenarios through the real conversation core: each starts from the demo back end's seed and the policy
file's stages, every customer turn is a real turn with a decision record, every staff click goes through the core
as a button would, and the first expectation that does not hold is reported with the decision to explain."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from escalation.models import Actor, Approval, ApprovalState, Risk, Role, Stage
from escalation.service import Escalation
from handlers.conversations import ConversationStore
from handlers.core import Core
from handlers.decisions import DecisionStore, new_decision_id
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
from handlers.scenario_checks import EndObserved, Mismatch, Observed, check_end, check_step
from handlers.scenario_load import LoadedScenario
from handlers.scenario_model import CustomerStep, Scenario, StaffSays, StaffStep

RUNNER = Actor("scenario-runner", Role.LEAD)
_STAFF_GROUPS = frozenset({"support-leads", "billing", "security", "shipping", "support-tier1"})
_ACTORS = {
    "lead": lambda: Actor("U-scenario-lead", Role.LEAD, _STAFF_GROUPS, "Scenario Lead"),
    "staff": lambda: Actor("U-scenario-staff", Role.STAFF, _STAFF_GROUPS, "Scenario Staff"),
}
_RAN = (ApprovalState.EXECUTED, ApprovalState.ROLLED_BACK)


class ScenarioClock:
    """The escalation clock of a run: real time plus an offset that moves a day at every scenario (so one
    scenario's automatic actions never count against another's daily limit) and past an approval's expiry
    when a scenario lets it expire."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by


class OrderFacts(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def refunded_cents(self) -> int: ...


class CustomerFacts(Protocol):
    @property
    def email(self) -> str: ...


class ScenarioBackEnd(Protocol):
    """The back end a run resets before each scenario and reads after it: the sample company's (bot/demo/backend),
    chosen by the composition root, never a real one."""

    async def reset_demo_data(self) -> None: ...
    async def get_order(self, order_id: str) -> OrderFacts | None: ...
    async def issued_refunds(self, order_id: str) -> list[int]: ...
    async def customer(self, customer_id: str) -> CustomerFacts | None: ...


@dataclass(frozen=True)
class ScenarioWorld:
    """The real parts a run drives; `escalation` must run on `clock`."""

    core: Core
    escalation: Escalation
    decisions: DecisionStore
    conversations: ConversationStore
    demo: ScenarioBackEnd
    clock: ScenarioClock


@dataclass(frozen=True)
class Failure:
    step: str  # "turn 2" or "end"
    mismatch: Mismatch
    decision_id: str | None  # the decision to explain

    def __str__(self) -> str:
        why = f"{self.step}: {self.mismatch}"
        return f"{why} (decision {self.decision_id})" if self.decision_id else why


@dataclass(frozen=True)
class ScenarioResult:
    id: str
    source: str
    workflows: tuple[str, ...]
    failure: Failure | None
    decisions: tuple[str, ...]
    seconds: float

    @property
    def passed(self) -> bool:
        return self.failure is None


@dataclass
class _Conversation:
    scenario: Scenario
    key: str
    approvals: dict[str, Approval] = field(default_factory=dict)  # every approval raised, by id
    handoffs: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    cards: set[str] = field(default_factory=set)


class ScenarioRunner:
    def __init__(self, world: ScenarioWorld, *, label: str = "run") -> None:
        self._world = world
        self._label = label
        # the runner owns its database's demo data and stages while it runs: it resets only what a scenario changed
        self._demo_changed = True
        self._stages_now: dict[str, Stage] | None = None
        self._kill_switch_now: bool | None = None

    async def run(self, loaded: LoadedScenario, *, attempt: int = 1) -> ScenarioResult:
        started = time.perf_counter()
        scenario = loaded.scenario
        chat = _Conversation(scenario, f"scenario:{self._label}:{scenario.id}:{attempt}:{secrets.token_hex(3)}")
        await self._reset(scenario)
        try:
            failure = await self._steps(chat)
            if failure is None:
                failure = await self._end(chat)
        finally:
            self._demo_changed = self._demo_changed or any(
                approval.state in _RAN and approval.action != "order_status" for approval in chat.approvals.values()
            )
        return ScenarioResult(
            scenario.id,
            loaded.source,
            tuple(scenario.covered_workflows()),
            failure,
            tuple(chat.decisions),
            time.perf_counter() - started,
        )

    async def restore(self) -> None:
        """The policy file's stages, no kill switch and the demo data as seeded again, as before the first scenario."""
        await self._stages({}, kill_switch=False)
        if self._demo_changed:
            await self._world.demo.reset_demo_data()
            self._demo_changed = False

    async def _reset(self, scenario: Scenario) -> None:
        world = self._world
        world.clock.advance(timedelta(days=1))
        if self._demo_changed:
            await world.demo.reset_demo_data()
            self._demo_changed = False
        await self._stages(scenario.setup.stages, kill_switch=scenario.setup.kill_switch)

    async def _stages(self, stages: Mapping[str, str], *, kill_switch: bool) -> None:
        autonomy = self._world.escalation.autonomy
        if self._stages_now is None:
            self._stages_now = {name: stage for name, (stage, _, _) in (await autonomy.stages()).items()}
            self._kill_switch_now = await autonomy.kill_switch()
        for name, workflow in self._world.escalation.policy.workflows.items():
            wanted = Stage(stages.get(name, workflow.autonomy.value))
            if self._stages_now.get(name) is not wanted:
                await autonomy.set_stage(name, wanted, by=RUNNER, reason="scenario set-up")
                self._stages_now[name] = wanted
        if self._kill_switch_now != kill_switch:
            await autonomy.set_kill_switch(kill_switch, by=RUNNER)
            self._kill_switch_now = kill_switch

    async def _steps(self, chat: _Conversation) -> Failure | None:
        for number, step in enumerate(chat.scenario.turns, start=1):
            before = {approval_id: approval.state for approval_id, approval in chat.approvals.items()}
            decision: str | None
            if isinstance(step, CustomerStep | StaffSays):
                seen, decision = await self._message(chat, step)
            else:
                seen, decision = await self._click(chat, step)
            await self._refresh(chat)
            seen.executed = [
                (approval.action, approval.params)
                for approval_id, approval in chat.approvals.items()
                if approval.state in _RAN and before.get(approval_id) not in _RAN
            ]
            if mismatch := check_step(step.expect, seen):
                return Failure(f"turn {number}", mismatch, decision or _last(chat.decisions))
        return None

    async def _message(self, chat: _Conversation, step: CustomerStep | StaffSays) -> tuple[Observed, str]:
        world, scenario = self._world, chat.scenario
        decision_id = new_decision_id()
        if isinstance(step, CustomerStep):
            author, text = Actor(scenario.customer, Role.CUSTOMER), step.customer
        else:
            author, text = _ACTORS["staff"](), step.staff_says
        out = await world.core.handle(
            InboundMessage(Platform.CLI, scenario.org, chat.key, author, text, decision_id=decision_id)
        )
        chat.decisions.append(decision_id)
        self._track(chat, out)
        record = await world.decisions.get(decision_id)
        seen = self._outbound(chat, out)
        if record is not None:
            seen.route, seen.outcome = record.route, record.outcome
            seen.policy_outcome, seen.policy_rule = record.policy_outcome, record.policy_rule
            seen.handoff = seen.handoff or record.handoff_id is not None
            seen.cited = [str(p["doc_key"]) for p in sorted(record.retrieved, key=_citation) if p.get("cited")]
            if record.tool_calls:
                seen.inputs = dict(record.tool_calls[-1].get("params", {}))
            if record.approval_id:
                await self._remember(chat, record.approval_id)
        conversation = await world.conversations.load(chat.key, platform=Platform.CLI.value, org=scenario.org)
        seen.asks_for = conversation.asked_for
        if not seen.inputs:
            seen.inputs = {k: v for k, v in conversation.gathered.items() if not k.startswith("_")}
        return seen, decision_id

    async def _click(self, chat: _Conversation, step: StaffStep) -> tuple[Observed, str | None]:
        if step.staff == "expire":
            return await self._expire(chat)
        actor = Actor(chat.scenario.customer, Role.CUSTOMER) if step.by == "customer" else _ACTORS[step.by]()
        kind, target, value = ActionKind(step.staff), chat.key, dict[str, object]()
        if step.staff in ("approve", "deny"):
            target = _latest(chat, ApprovalState.PENDING)
            if step.amount_cents is not None:
                value = {"amount_cents": step.amount_cents}
            elif step.reason is not None:
                value = {"reason": step.reason}
        elif step.staff == "undo":
            target = _latest(chat, ApprovalState.EXECUTED, undoable=True)
        elif chat.handoffs:
            target = chat.handoffs[-1]
        place = chat.key if step.staff in ("take_over", "hand_back") or step.by == "customer" else "staff-channel"
        out = await self._world.core.handle(
            InboundAction(Platform.CLI, chat.scenario.org, place, actor, kind, target, value)
        )
        self._track(chat, out)
        approval = chat.approvals.get(target)
        return self._outbound(chat, out), approval.decision_id if approval else None

    async def _expire(self, chat: _Conversation) -> tuple[Observed, str | None]:
        """As the approvals job does when nobody answers in time: the approval expires and a person takes over."""
        world = self._world
        target = chat.approvals.get(_latest(chat, ApprovalState.PENDING))
        if target is None:
            return Observed(), None
        world.clock.advance(world.escalation.policy.expiry_for(target.workflow) + timedelta(minutes=1))
        seen = Observed()
        for approval, handoff in await world.escalation.expire_due():
            if approval.conversation_key == chat.key:
                chat.handoffs.append(handoff.id)
                seen.handoff = True
        return seen, target.decision_id

    def _track(self, chat: _Conversation, out: list[Outbound]) -> None:
        for item in out:
            if isinstance(item, ApprovalRequest):
                chat.approvals[item.approval.id] = item.approval
                chat.cards.add(item.approval.id)
            elif isinstance(item, HandoffNotice):
                chat.handoffs.append(item.handoff.id)

    def _outbound(self, chat: _Conversation, out: list[Outbound]) -> Observed:
        return Observed(
            reply="\n".join(item.text for item in out if isinstance(item, Reply) and item.conversation_key == chat.key),
            approval_card=any(isinstance(item, ApprovalRequest) for item in out),
            handoff=any(isinstance(item, HandoffNotice) for item in out),
        )

    async def _remember(self, chat: _Conversation, approval_id: str) -> None:
        approval = await self._world.escalation.approval(approval_id)
        if approval is not None:
            chat.approvals[approval_id] = approval

    async def _refresh(self, chat: _Conversation) -> None:
        for approval_id in list(chat.approvals):
            await self._remember(chat, approval_id)

    async def _end(self, chat: _Conversation) -> Failure | None:
        scenario, demo = chat.scenario, self._world.demo
        ran = sorted(
            (a for a in chat.approvals.values() if a.state in _RAN and a.executed_at is not None),
            key=lambda a: a.executed_at or a.created_at,
        )
        seen = EndObserved(
            executed=[(approval.action, approval.params) for approval in ran],
            approvals=len(chat.cards),
            handoff=bool(chat.handoffs),
            unapproved=[
                f"{approval.action} {approval.params} ({approval.decided_by})"
                for approval in ran
                if approval.risk is not Risk.LOW and (approval.decided_by or "").startswith("policy:")
            ],
        )
        backend = scenario.end.backend
        for order_id in backend.orders if backend else ():
            order = await demo.get_order(order_id)
            if order is not None:
                seen.orders[order_id] = {
                    "status": order.status,
                    "refunded_cents": order.refunded_cents,
                    "refunds": await demo.issued_refunds(order_id),
                }
        for customer_id in backend.customers if backend else ():
            customer = await demo.customer(customer_id)
            if customer is not None:
                seen.customers[customer_id] = {"email": customer.email}
        mismatch = check_end(scenario.end, seen, injection=scenario.kind == "injection")
        return Failure("end", mismatch, _last(chat.decisions)) if mismatch else None


def _latest(chat: _Conversation, state: ApprovalState, *, undoable: bool = False) -> str:
    """The newest approval of the conversation in `state` (what a person would click on), or "none"; with
    `undoable`, only actions that are not themselves an undo."""
    matching = [a for a in chat.approvals.values() if a.state is state and not (undoable and a.rollback_of)]
    return max(matching, key=lambda a: a.created_at).id if matching else "none"


def _citation(passage: dict[str, object]) -> int:
    cited = passage.get("cited")
    return cited if isinstance(cited, int) else 0


def _last(decisions: list[str]) -> str | None:
    return decisions[-1] if decisions else None
