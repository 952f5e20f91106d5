"""The pre-expansion checklist's verdicts (`supportbot doctor`), and the ones about the policy: pure functions.

A check is one line an operator reads before giving the bot more autonomy: what was checked, pass / warn /
fail, and for anything but a pass the fix in one sentence. Who the policy names is resolved elsewhere (the
chat platforms know who is real); here only the verdicts are drawn from what was found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from escalation.audit import ExecutedAction
from escalation.policy import Policy, WorkflowPolicy


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str  # stable, dotted: "slack.scopes", "workflow.refund"
    status: Status
    detail: str  # what was found
    fix: str = ""  # one sentence; required unless the check passed

    def __post_init__(self) -> None:
        if self.status is not Status.PASS and not self.fix:
            raise ValueError(f"check {self.name} is {self.status} but says no fix")


def passed(name: str, detail: str) -> Check:
    return Check(name, Status.PASS, detail)


def warned(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.WARN, detail, fix)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.FAIL, detail, fix)


@dataclass(frozen=True)
class Resolution:
    """Whether one approver or escalation entry (`U123`, `group:billing`) names real people on a platform."""

    ok: bool
    detail: str  # "3 people" or why not, e.g. "billing has no Slack user group in SLACK_GROUPS"


_UNKNOWN = Resolution(False, "not looked up")
# platform name ("slack", "teams") → policy entry → what the platform said about it
Resolutions = Mapping[str, Mapping[str, Resolution]]


def _deciders(workflow: WorkflowPolicy, lead_group: str) -> tuple[str, ...]:
    """Who may approve its action: the approvers it names, else the team leads (escalation/authorization.py)."""
    if workflow.approvers or not workflow.action:
        return tuple(workflow.approvers)
    return (f"group:{lead_group}",)


def people_named(policy: Policy, *, lead_group: str) -> set[str]:
    """Every approver (the lead group where none is named) and escalation entry, for the platforms to resolve."""
    return {
        entry
        for workflow in policy.workflows.values()
        for entry in (*_deciders(workflow, lead_group), *workflow.escalation_path)
    }


def workflow_checks(policy: Policy, resolutions: Resolutions, *, lead_group: str) -> list[Check]:
    """One line per workflow: an owner, an escalation path, and approvers who are real people where the bot
    runs. With no platform to ask (`resolutions` empty) the names cannot be confirmed: a warning."""
    return [_workflow_check(name, workflow, resolutions, lead_group) for name, workflow in policy.workflows.items()]


def _workflow_check(name: str, workflow: WorkflowPolicy, resolutions: Resolutions, lead_group: str) -> Check:
    check = f"workflow.{name}"
    if not workflow.owner.strip():
        return failed(check, "names no owner", f"Give {name} an `owner:` (who answers for it) in POLICY_FILE.")
    if not workflow.escalation_path:
        return failed(
            check,
            f"owner {workflow.owner}; no escalation path, so its unclaimed hand-offs never move up",
            f"Add `escalation_path:` (user ids or group:NAME, first level first) to {name} in POLICY_FILE.",
        )
    # an id is one platform's (U… on Slack, an AAD id on Teams): found on any platform the bot runs on will do
    unresolved = [
        "; ".join(
            f"{entry} on {platform}: {found.get(entry, _UNKNOWN).detail}"
            for platform, found in sorted(resolutions.items())
        )
        for entry in dict.fromkeys((*_deciders(workflow, lead_group), *workflow.escalation_path))
        if resolutions and not any(found.get(entry, _UNKNOWN).ok for found in resolutions.values())
    ]
    if unresolved:
        return failed(
            check,
            "names people who cannot be found: " + "; ".join(sorted(set(unresolved))),
            "Map each group in SLACK_GROUPS / TEAMS_GROUPS to a group with members, and use ids of active people.",
        )
    summary = f"owner {workflow.owner}; escalates to {' → '.join(workflow.escalation_path)}"
    approvers = f"; approvers {', '.join(workflow.approvers)}" if workflow.approvers else ""
    if workflow.action and not workflow.approvers:  # a deliberate default, not a gap
        approvers = f"; no approvers named, so the team leads (group:{lead_group}) approve"
    if not resolutions:
        return warned(
            check,
            f"{summary}{approvers}; not confirmed: no chat platform is configured to look them up",
            "Configure Slack or Teams, then run `supportbot doctor` again.",
        )
    return passed(check, f"{summary}{approvers} (all found on {', '.join(sorted(resolutions))})")


def rollback_check(policy: Policy) -> Check:
    """Every action says how it is undone, or says it cannot be (`reversible: false`)."""
    undeclared = sorted(
        name
        for name, workflow in policy.workflows.items()
        if workflow.action and not workflow.rollback
        if workflow.reversible is not False
    )
    if undeclared:
        return failed(
            "policy.rollbacks",
            f"no rollback declared for {', '.join(undeclared)}",
            "Declare `rollback:` (the action that undoes it) for each, or `reversible: false` if it cannot be undone.",
        )
    pairs = [f"{w.action}→{w.rollback}" for w in policy.workflows.values() if w.action and w.rollback]
    final = [w.action for w in policy.workflows.values() if w.action and not w.rollback]
    tail = f"; no undo by declaration: {', '.join(final)}" if final else ""
    return passed("policy.rollbacks", f"{', '.join(pairs) or 'no reversible actions'}{tail}")


def executor_check(policy: Policy, executor_of: Mapping[str, str | None], *, demo_mode: bool) -> Check:
    """Every action and rollback has an executor; the demo back end only in demo mode, and never at go-live."""
    declared = sorted({a for w in policy.workflows.values() for a in (w.action, w.rollback) if a})
    missing = [action for action in declared if executor_of.get(action) is None]
    if missing:
        return failed(
            "policy.executors",
            f"nothing runs {', '.join(missing)}",
            "List these actions in WEBHOOK_ACTIONS with WEBHOOK_URL and WEBHOOK_SECRET set to your back end.",
        )
    shown = ", ".join(f"{action}: {executor_of[action]}" for action in declared)
    on_demo = [action for action in declared if executor_of[action] == "demo"]
    if on_demo and not demo_mode:  # the registry only offers the demo back end in demo mode; kept as a guard
        return failed(
            "policy.executors",
            f"{', '.join(on_demo)} would run on the demo back end outside demo mode",
            "Send these actions to your back end with WEBHOOK_ACTIONS.",
        )
    if on_demo:
        return warned(
            "policy.executors",
            f"{shown}: DEMO_BACKEND is on, so {', '.join(on_demo)} act on the sample company's demo data",
            "Before go-live set DEMO_BACKEND=false and list every action in WEBHOOK_ACTIONS for your back end.",
        )
    return passed("policy.executors", shown or "the policy declares no actions")


# the audit events that tell an executed action's story: asked for, decided, done
_REQUEST = {"approval_requested", "auto_approved", "rollback_requested"}
_APPROVAL = {"approved", "approved_with_changes", "auto_approved"}
_RESULT = {"executed", "execution_failed"}
HIGH_IMPACT = ("medium", "high")


def audit_trail_check(executed: list[ExecutedAction], *, days: int) -> Check:
    """Every executed high-impact action has its request, approval and result rows in the audit trail."""
    gaps = []
    for action in executed:
        missing = [
            part
            for part, events in (("request", _REQUEST), ("approval", _APPROVAL), ("result", _RESULT))
            if not action.events & events
        ]
        if missing:
            gaps.append(f"{action.approval_id} ({action.workflow} {action.action}) lacks its {' and '.join(missing)}")
    if gaps:
        return failed(
            "audit.trail",
            f"{len(gaps)} of {len(executed)} high-impact actions of the last {days} days: " + "; ".join(gaps[:5]),
            "Find out how these actions ran outside the approval path (`supportbot audit`) and stop that path.",
        )
    return passed(
        "audit.trail",
        f"{len(executed)} high-impact actions executed in the last {days} days, each with request, approval and result",
    )


def worst(checks: Iterable[Check]) -> Status:
    statuses = {check.status for check in checks}
    return Status.FAIL if Status.FAIL in statuses else Status.WARN if Status.WARN in statuses else Status.PASS
