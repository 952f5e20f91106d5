"""Policy rules: each outcome names the rule that produced it and the inputs it looked at."""

from __future__ import annotations

from pathlib import Path

import pytest

from escalation.errors import PolicyError
from escalation.models import OutcomeKind, PolicyContext, ProposedAction, Stage
from escalation.policy import Policy, evaluate, load_policy, parse_policy

REPO = Path(__file__).resolve().parents[2]
POLICY = load_policy(REPO / "examples" / "policy" / "acme.yaml")


def refund(amount: int = 2000, **overrides: object) -> ProposedAction:
    values: dict[str, object] = {
        "workflow": "refund",
        "action": "refund",
        "params": {"order_id": "A-1", "amount_cents": amount},
        "requested_by": "U-customer",
        "org": "globex",
        "confidence": 0.9,
        "amount_cents": amount,
    }
    values |= overrides
    return ProposedAction(**values)  # type: ignore[arg-type]


def decide(action: ProposedAction, stage: Stage = Stage.AUTO, policy: Policy = POLICY, **context: object):  # type: ignore[no-untyped-def]
    return evaluate(policy, action, PolicyContext(stage=stage, **context))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("action", "stage", "context", "kind", "rule"),
    [
        (refund(workflow="teleport"), Stage.AUTO, {}, OutcomeKind.REFUSE, "unknown_workflow"),
        (refund(action="cancel_order"), Stage.AUTO, {}, OutcomeKind.REFUSE, "action_not_declared"),
        (refund(confidence=0.5), Stage.AUTO, {}, OutcomeKind.HANDOFF, "low_confidence"),
        (refund(60_000), Stage.AUTO, {}, OutcomeKind.HANDOFF, "amount_above_limit"),
        (refund(), Stage.SHADOW, {}, OutcomeKind.HANDOFF, "autonomy_shadow"),
        (refund(), Stage.AUTO, {"kill_switch": True}, OutcomeKind.NEEDS_APPROVAL, "kill_switch"),
        (refund(customer_tier="business"), Stage.AUTO, {}, OutcomeKind.NEEDS_APPROVAL, "tier_requires_approval"),
        (refund(), Stage.APPROVE, {}, OutcomeKind.NEEDS_APPROVAL, "autonomy_approve"),
        (refund(6000), Stage.AUTO, {}, OutcomeKind.NEEDS_APPROVAL, "amount_above_auto_limit"),
        (refund(), Stage.AUTO, {"auto_actions_today": 5}, OutcomeKind.NEEDS_APPROVAL, "auto_rate_limit"),
        (refund(), Stage.AUTO, {"auto_actions_today": 4}, OutcomeKind.ACT, "autonomy_auto"),
        (
            ProposedAction("change_email", "change_email", {"customer_id": "c", "new_email": "a@b.c"}, "U1"),
            Stage.AUTO,
            {},
            OutcomeKind.NEEDS_APPROVAL,
            "high_risk",
        ),
    ],
)
def test_each_rule(
    action: ProposedAction, stage: Stage, context: dict[str, object], kind: OutcomeKind, rule: str
) -> None:
    outcome = decide(action, stage, **context)
    assert (outcome.kind, outcome.rule) == (kind, rule)
    assert outcome.reason
    assert outcome.inputs["workflow"] == action.workflow
    assert outcome.inputs["stage"] == stage.value


def test_outcome_lists_the_inputs_it_looked_at() -> None:
    outcome = decide(refund(6000), Stage.AUTO, auto_actions_today=2)
    assert outcome.inputs == {
        "workflow": "refund",
        "action": "refund",
        "stage": "auto",
        "confidence": 0.9,
        "amount_cents": 6000,
        "org": "globex",
        "customer_tier": None,
        "kill_switch": False,
        "auto_actions_today": 2,
        "risk": "medium",
        "confidence_threshold": 0.7,
        "auto_max_amount_cents": 5000,
    }


def test_shadow_says_what_it_would_have_done() -> None:
    assert decide(refund(), Stage.SHADOW).shadow_of is OutcomeKind.ACT
    assert decide(refund(6000), Stage.SHADOW).shadow_of is OutcomeKind.NEEDS_APPROVAL


def test_kill_switch_in_the_file_applies_too() -> None:
    policy = POLICY.model_copy(update={"kill_switch": True})
    assert decide(refund(), Stage.AUTO, policy=policy).rule == "kill_switch"


def test_example_policy_loads_with_durations() -> None:
    assert POLICY.expiry_for("change_email").total_seconds() == 4 * 3600
    assert POLICY.expiry_for("refund").total_seconds() == 24 * 3600
    assert POLICY.workflows["change_email"].must_differ is True
    assert POLICY.workflows["refund"].must_differ is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "workflows:\n  refund:\n    owner: a\n    risk: extreme\n",
            "policy.yaml:4: workflows.refund.risk: Input should be",
        ),
        ("workflows:\n  refund:\n    description: no owner\n", "policy.yaml:2: workflows.refund.owner: Field required"),
        (
            "workflows:\n  refund:\n    owner: a\n    colour: red\n",
            "policy.yaml:4: workflows.refund.colour: Extra inputs",
        ),
        (
            "approval_expiry: soon\nworkflows: {}\n",
            "policy.yaml:1: approval_expiry: Value error, 'soon' is not a duration",
        ),
        (
            "workflows:\n  r:\n    owner: a\n    rollback: undo\n",
            "policy.yaml:2: workflows.r: Value error, a rollback needs",
        ),
        ("workflows: [\n", "policy.yaml:2: not valid YAML"),
        ("- just\n- a list\n", "policy.yaml: expected a mapping"),
    ],
)
def test_policy_errors_name_file_line_and_field(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="policy.yaml")
    assert message in str(caught.value)


def test_missing_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(tmp_path / "nope.yaml")
