"""The policy file and `evaluate`: which rule decides act | needs approval | hand-off | refuse."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from escalation.durations import Duration
from escalation.errors import PolicyError
from escalation.models import OutcomeKind, PolicyContext, PolicyOutcome, ProposedAction, Risk, Stage


class Promotion(BaseModel):
    """When a workflow may move up a stage: judged over each of the last two weekly cycles."""

    model_config = ConfigDict(extra="forbid")
    min_decisions_per_week: int = Field(10, ge=1)
    min_unchanged_share: float = Field(0.9, ge=0, le=1)
    max_denial_share: float = Field(0.05, ge=0, le=1)
    max_failures: int = Field(0, ge=0)
    max_rollbacks: int = Field(0, ge=0)


class WorkflowPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: str
    description: str = ""
    examples: list[str] = Field(default_factory=list)  # utterances the offline router learns from
    inputs: str | None = None  # name of the typed input model the conversation core fills
    action: str | None = None  # None: the workflow never acts (answers, hand-offs)
    rollback: str | None = None  # the action that undoes `action`
    reversible: bool | None = None  # false: `action` cannot be undone (doctor accepts no rollback); None: unsaid
    # parameters `supportbot doctor --drill` runs `action` with, against a sandbox (never real data)
    drill: dict[str, Any] | None = None
    risk: Risk = Risk.LOW
    autonomy: Stage = Stage.APPROVE
    confidence_threshold: float = Field(0.6, ge=0, le=1)
    approvers: list[str] = Field(default_factory=list)  # user ids or "group:NAME"
    requester_must_differ: bool | None = None  # default: only for high risk
    escalation_path: list[str] = Field(default_factory=list)  # hand-off levels, user ids or groups
    max_amount_cents: int | None = Field(None, ge=0)  # above: a human handles it
    auto_max_amount_cents: int | None = Field(None, ge=0)  # above: approval even in auto
    auto_per_org_per_day: int | None = Field(None, ge=0)
    approval_required_for_orgs: list[str] = Field(default_factory=list)
    approval_required_for_tiers: list[str] = Field(default_factory=list)
    refuse_for_orgs: list[str] = Field(default_factory=list)
    approval_expiry: Duration | None = None
    undo_window: Duration | None = None
    promotion: Promotion = Promotion()  # never mutated, so one shared default is safe

    @model_validator(mode="after")
    def _consistent(self) -> WorkflowPolicy:
        if self.rollback and not self.action:
            raise ValueError("a rollback needs an action to undo")
        if self.rollback and self.reversible is False:
            raise ValueError("an action with a rollback is reversible: drop `reversible: false` or the rollback")
        if self.drill is not None and not self.action:
            raise ValueError("drill parameters need an action to drill")
        if self.max_amount_cents is not None and (self.auto_max_amount_cents or 0) > self.max_amount_cents:
            raise ValueError("auto_max_amount_cents cannot exceed max_amount_cents")
        return self

    @property
    def must_differ(self) -> bool:
        return self.requester_must_differ if self.requester_must_differ is not None else self.risk is Risk.HIGH


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kill_switch: bool = False
    approval_expiry: Duration = timedelta(hours=24)
    reminder_before: Duration = timedelta(hours=2)
    undo_window: Duration = timedelta(hours=72)
    handoff_sla: Duration = timedelta(minutes=30)
    workflows: dict[str, WorkflowPolicy]

    def workflow(self, name: str) -> WorkflowPolicy | None:
        return self.workflows.get(name)

    def expiry_for(self, name: str) -> timedelta:
        workflow = self.workflows.get(name)
        return (workflow.approval_expiry if workflow else None) or self.approval_expiry

    def undo_window_for(self, name: str) -> timedelta:
        workflow = self.workflows.get(name)
        return (workflow.undo_window if workflow else None) or self.undo_window


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; errors name the file, the line and the field."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file ({exc.strerror})") from None
    return parse_policy(text, source=str(path))


def parse_policy(text: str, *, source: str) -> Policy:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{source}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: expected a mapping with a `workflows` section")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        lines = yaml_line_index(node)
        problems = []
        for error in exc.errors():
            loc = tuple(str(part) for part in error["loc"])
            line = nearest_line(lines, loc)
            problems.append(f"{source}:{line}: {'.'.join(loc) or '(top)'}: {error['msg']}")
        raise PolicyError("; ".join(problems)) from None


def yaml_line_index(node: yaml.Node | None, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """(key, index, …) path → the 1-based line where that field's key (or item) starts, for errors naming a line."""
    index: dict[tuple[str, ...], int] = {}
    if node is None:
        return index
    index[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            index[child] = key.start_mark.line + 1
            index.update({k: v for k, v in yaml_line_index(value, child).items() if k != child})
    elif isinstance(node, yaml.SequenceNode):
        for position, value in enumerate(node.value):
            index.update(yaml_line_index(value, (*path, str(position))))
    return index


def nearest_line(lines: dict[tuple[str, ...], int], loc: tuple[str, ...]) -> int:
    # a missing field has no line of its own: point at its parent
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def evaluate(policy: Policy, action: ProposedAction, context: PolicyContext) -> PolicyOutcome:
    """Pure: the first rule that applies decides. Every outcome names its rule and its inputs."""
    workflow = policy.workflow(action.workflow)
    inputs: dict[str, Any] = {
        "workflow": action.workflow,
        "action": action.action,
        "stage": context.stage.value,
        "confidence": action.confidence,
        "amount_cents": action.amount_cents,
        "org": action.org,
        "customer_tier": action.customer_tier,
        "kill_switch": context.kill_switch or policy.kill_switch,
        "auto_actions_today": context.auto_actions_today,
    }
    if workflow is None:
        return PolicyOutcome(OutcomeKind.REFUSE, "unknown_workflow", "no such workflow in the policy", inputs)
    inputs |= {"risk": workflow.risk.value, "confidence_threshold": workflow.confidence_threshold}
    if workflow.action != action.action:
        return PolicyOutcome(
            OutcomeKind.REFUSE, "action_not_declared", f"{action.workflow} may not run {action.action}", inputs
        )
    if action.org and action.org in workflow.refuse_for_orgs:
        return PolicyOutcome(
            OutcomeKind.REFUSE, "org_refused", f"{action.org} is excluded from {action.workflow}", inputs
        )
    if action.confidence < workflow.confidence_threshold:
        return PolicyOutcome(
            OutcomeKind.HANDOFF,
            "low_confidence",
            f"confidence {action.confidence:.2f} is below the threshold {workflow.confidence_threshold:.2f}",
            inputs,
        )
    if workflow.max_amount_cents is not None and (action.amount_cents or 0) > workflow.max_amount_cents:
        inputs["max_amount_cents"] = workflow.max_amount_cents
        return PolicyOutcome(
            OutcomeKind.HANDOFF, "amount_above_limit", "the amount is above what the bot may handle", inputs
        )
    if context.stage is Stage.SHADOW:
        # what the bot would do if it were trusted to act: every rule but the stage itself
        would = _approval_or_act(policy, workflow, action, replace(context, stage=Stage.AUTO), dict(inputs))
        return PolicyOutcome(
            OutcomeKind.HANDOFF,
            "autonomy_shadow",
            f"shadow stage: a human handles it; the bot would have chosen '{would.kind.value}' ({would.rule})",
            inputs,
            shadow_of=would.kind,
        )
    return _approval_or_act(policy, workflow, action, context, inputs)


def _approval_or_act(
    policy: Policy, workflow: WorkflowPolicy, action: ProposedAction, context: PolicyContext, inputs: dict[str, Any]
) -> PolicyOutcome:
    def approval(rule: str, reason: str) -> PolicyOutcome:
        return PolicyOutcome(OutcomeKind.NEEDS_APPROVAL, rule, reason, inputs)

    if context.kill_switch or policy.kill_switch:
        return approval("kill_switch", "the kill switch sends every action to a human for approval")
    if workflow.risk is Risk.HIGH:
        return approval("high_risk", f"{action.workflow} is high risk: a human always approves")
    if action.org and action.org in workflow.approval_required_for_orgs:
        return approval("org_requires_approval", f"actions for {action.org} need approval")
    if action.customer_tier and action.customer_tier in workflow.approval_required_for_tiers:
        return approval("tier_requires_approval", f"actions for {action.customer_tier} customers need approval")
    if context.stage is not Stage.AUTO:
        return approval("autonomy_approve", f"{action.workflow} is in the approve stage")
    if workflow.auto_max_amount_cents is not None and (action.amount_cents or 0) > workflow.auto_max_amount_cents:
        inputs["auto_max_amount_cents"] = workflow.auto_max_amount_cents
        return approval("amount_above_auto_limit", "the amount is above the automatic limit")
    if workflow.auto_per_org_per_day is not None and context.auto_actions_today >= workflow.auto_per_org_per_day:
        inputs["auto_per_org_per_day"] = workflow.auto_per_org_per_day
        return approval("auto_rate_limit", "the daily limit of automatic actions for this org is reached")
    return PolicyOutcome(OutcomeKind.ACT, "autonomy_auto", f"{action.workflow} is in the auto stage", inputs)
