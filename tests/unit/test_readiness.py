"""The doctor's verdicts over data (escalation/, handlers/, scheduler/ `readiness.py`) and its rendering."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.cli.doctor import render, report
from bot.slack.scopes import REQUIRED_BOT_SCOPES
from escalation.audit import ExecutedAction
from escalation.errors import PolicyError
from escalation.policy import load_policy, parse_policy
from escalation.readiness import (
    Check,
    Resolution,
    Status,
    audit_trail_check,
    executor_check,
    failed,
    passed,
    people_named,
    rollback_check,
    workflow_checks,
)
from handlers.prompts import template_owners
from handlers.readiness import knowledge_checks, prompt_check
from knowledge.models import DocumentRecord
from scheduler.readiness import digest_check

REPO = Path(__file__).resolve().parents[2]
ACME = load_policy(REPO / "examples" / "policy" / "acme.yaml")
TODAY = date(2026, 11, 29)


@pytest.mark.parametrize("manifest", ["slack-app.yaml", "slack-app-socket-mode.yaml"])
def test_the_scopes_the_doctor_asks_for_are_the_manifests(manifest: str) -> None:
    document = yaml.safe_load((REPO / "manifest" / manifest).read_text("utf-8"))
    assert set(document["oauth_config"]["scopes"]["bot"]) == REQUIRED_BOT_SCOPES


def test_a_check_that_does_not_pass_must_say_how_to_fix_it() -> None:
    with pytest.raises(ValueError, match="no fix"):
        Check("redis", Status.FAIL, "down")


def policy(workflow: str) -> str:
    return "workflows:\n  refund:\n    owner: billing@acme.example\n" + workflow


def test_rollbacks_every_action_says_how_it_is_undone_or_that_it_cannot_be() -> None:
    assert rollback_check(ACME).status is Status.PASS
    assert "refund→reverse_refund" in rollback_check(ACME).detail
    assert "no undo by declaration: order_status" in rollback_check(ACME).detail
    silent = parse_policy(policy("    action: refund\n"), source="p")
    assert rollback_check(silent) == failed(
        "policy.rollbacks",
        "no rollback declared for refund",
        "Declare `rollback:` (the action that undoes it) for each, or `reversible: false` if it cannot be undone.",
    )
    promised = parse_policy(policy("    action: refund\n    reversible: true\n"), source="p")
    assert rollback_check(promised).status is Status.FAIL
    final = parse_policy(policy("    action: refund\n    reversible: false\n"), source="p")
    assert rollback_check(final).status is Status.PASS


@pytest.mark.parametrize(
    ("workflow", "message"),
    [
        ("    action: refund\n    rollback: undo\n    reversible: false\n", "an action with a rollback is reversible"),
        ("    drill: {order_id: A-1}\n", "drill parameters need an action"),
    ],
)
def test_contradictions_in_the_new_policy_fields_are_refused(workflow: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(policy(workflow), source="p")


def found(ok: set[str], policy_entries: set[str]) -> dict[str, Resolution]:
    return {entry: Resolution(entry in ok, "3 people" if entry in ok else "no such group") for entry in policy_entries}


def test_workflows_name_an_owner_an_escalation_path_and_people_who_exist() -> None:
    everyone = people_named(ACME, lead_group="support-leads")
    assert "group:billing" in everyone and "group:support-tier1" in everyone
    lines = {
        check.name: check
        for check in workflow_checks(ACME, {"slack": found(everyone, everyone)}, lead_group="support-leads")
    }
    assert all(check.status is Status.PASS for check in lines.values())
    assert lines["workflow.order_status"].detail.endswith(
        "no approvers named, so the team leads (group:support-leads) approve (all found on slack)"
    )
    # with no approvers named, the team leads must be real people
    no_leads = {"slack": found(everyone - {"group:support-leads"}, everyone)}
    lines = {check.name: check for check in workflow_checks(ACME, no_leads, lead_group="support-leads")}
    assert "group:support-leads on slack: no such group" in lines["workflow.order_status"].detail

    without_billing = {"slack": found(everyone - {"group:billing"}, everyone)}
    lines = {check.name: check for check in workflow_checks(ACME, without_billing, lead_group="support-leads")}
    assert {name for name, check in lines.items() if check.status is Status.FAIL} == {"workflow.refund"}
    assert "group:billing on slack: no such group" in lines["workflow.refund"].detail
    # an entry found on either platform is someone real (a Slack id is not a Teams id)
    both = {**without_billing, "teams": found({"group:billing"}, everyone)}
    assert workflow_checks(ACME, both, lead_group="support-leads")[2].status is Status.PASS
    # with no platform to ask, nothing is confirmed
    assert {check.status for check in workflow_checks(ACME, {}, lead_group="support-leads")} == {Status.WARN}

    no_path = parse_policy(policy("    action: refund\n    rollback: undo\n"), source="p")
    (line,) = workflow_checks(no_path, {"slack": {}}, lead_group="support-leads")
    assert line.status is Status.FAIL and "no escalation path" in line.detail


def test_executors_every_action_runs_somewhere_real() -> None:
    actions = {a for w in ACME.workflows.values() for a in (w.action, w.rollback) if a}
    webhook = dict.fromkeys(actions, "webhook")
    assert executor_check(ACME, webhook, demo_mode=False).status is Status.PASS
    missing = executor_check(ACME, {**webhook, "reverse_refund": None}, demo_mode=False)
    assert missing.status is Status.FAIL and missing.detail == "nothing runs reverse_refund"
    demo = executor_check(ACME, {**webhook, "refund": "demo"}, demo_mode=True)
    assert demo.status is Status.WARN and "DEMO_BACKEND is on, so refund act" in demo.detail
    assert executor_check(ACME, {**webhook, "refund": "demo"}, demo_mode=False).status is Status.FAIL


def executed(approval_id: str, *events: str, kind: str = "action") -> ExecutedAction:
    return ExecutedAction(approval_id, kind, "refund", "refund", "medium", datetime.now(UTC), frozenset(events))


def test_every_executed_high_impact_action_has_its_request_approval_and_result() -> None:
    complete = [
        executed("apr_1", "approval_requested", "approved", "executed", "rolled_back"),
        executed("apr_2", "auto_approved", "executed"),  # policy asked and approved in one row
        executed("apr_3", "rollback_requested", "approved_with_changes", "executed", kind="undo"),
    ]
    assert audit_trail_check(complete, days=7).status is Status.PASS
    gaps = audit_trail_check([*complete, executed("apr_4", "approval_requested", "executed")], days=7)
    assert gaps.status is Status.FAIL
    assert gaps.detail == "1 of 4 high-impact actions of the last 7 days: apr_4 (refund refund) lacks its approval"
    bare = audit_trail_check([executed("apr_5")], days=7)
    assert "apr_5 (refund refund) lacks its request and approval and result" in bare.detail


def document(key: str, *, owner: str | None, tags: tuple[str, ...] = (), stale: bool = False) -> DocumentRecord:
    review = TODAY - timedelta(days=1) if stale else TODAY + timedelta(days=30)
    return DocumentRecord(1, key, None, key, owner, None, None, review, datetime.now(UTC), 1, tags)


def test_knowledge_documents_and_domains_without_an_owner_and_documents_past_review() -> None:
    healthy = [document("returns/window", owner="maria", tags=("returns",)), document("faq", owner="lena")]
    assert {check.status for check in knowledge_checks(healthy, today=TODAY)} == {Status.PASS}
    broken = [
        *healthy,
        document("billing/invoices", owner=None, tags=("billing",), stale=True),
        document("returns/labels", owner=None, tags=("returns",)),
    ]
    lines = {check.name: check for check in knowledge_checks(broken, today=TODAY)}
    assert lines["knowledge.owners"].detail == "2 of 4 documents name no owner: billing/invoices, returns/labels"
    assert lines["knowledge.review"].detail == "1 of 4 documents are past their review date: billing/invoices"
    # returns/ has an owner through another document; billing has none, as a tag or a folder
    assert lines["knowledge.domains"].detail == (
        "2 of 4 knowledge domains have no document with an owner: folder billing/, tag billing"
    )
    assert all(check.status is Status.WARN for check in lines.values())
    (empty,) = knowledge_checks([], today=TODAY)
    assert empty.status is Status.WARN and "supportbot ingest" in empty.fix


def test_prompt_templates_name_their_owner() -> None:
    owners = template_owners()
    assert set(owners) >= {"answer", "rewrite", "route"} and all(owners.values())
    assert prompt_check(owners).status is Status.PASS
    orphan = prompt_check({**owners, "route": None})
    assert orphan.status is Status.FAIL and "route" in orphan.detail and "handlers/prompts/" in orphan.fix


def test_the_digest_needs_a_channel() -> None:
    assert digest_check("mon 09:00", zone="Europe/Berlin", channels=["Slack C1"]) == passed(
        "digest", "every mon at 09:00 Europe/Berlin to Slack C1"
    )
    assert digest_check("fri 16:30", zone="UTC", channels=[]).status is Status.FAIL


def test_the_report_is_one_line_per_check_then_the_verdict() -> None:
    checks = [passed("redis", "reachable"), failed("slack.scopes", "the token lacks x", "Reinstall the app.")]
    assert render(checks).splitlines() == [
        "PASS  redis         reachable",
        "FAIL  slack.scopes  the token lacks x  → Reinstall the app.",
        "1 pass, 0 warn, 1 fail: NOT ready: fix every FAIL line first",
    ]
    assert report(checks)["ready"] is False
    assert report(checks[:1])["checks"] == [{"name": "redis", "status": "pass", "detail": "reachable", "fix": None}]


def test_a_drill_reads_as_one_line_in_the_audit_trail() -> None:
    from escalation.audit import AuditEvent
    from escalation.audit_format import describe

    event = AuditEvent(
        1, datetime.now(UTC), "doctor_drill", "doctor:drill", None, "refund", None, None, None, None, None, None,
        {"status": "pass", "detail": "refund (done) audited approval_requested → approved", "sandbox_audit": []},
    )  # fmt: skip
    assert describe(event) == "drill in a sandbox, pass: refund (done) audited approval_requested → approved"
