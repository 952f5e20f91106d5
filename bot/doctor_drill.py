"""`supportbot doctor --drill`: every policy action, then its rollback, through the real approval path in a
sandbox, and the audit trail must show both.

The sandbox is a throw-away database on the same server (created, migrated, dropped): the drill's approvals
and audit rows never count in the digest or in autonomy promotion, and the demo back end acts on its own
fresh copy of the demo data there. Your webhook gets every drill request marked as a dry run
(`escalation/webhook.py` says how a back end honours it). What each drill did is then recorded once in the
real audit trail (event `doctor_drill`), so the check itself leaves a trace.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr

from bot.executors import open_executors
from bot.migrate import MigrationError, migrate
from bot.settings import Settings, SettingsError
from bot.storage import StorageError, database_url, open_pool
from escalation import audit
from escalation.errors import EscalationError
from escalation.models import Actor, ApprovalState, OutcomeKind, PolicyOutcome, ProposedAction, Role
from escalation.policy import Policy, WorkflowPolicy
from escalation.readiness import Check, failed, passed, warned
from escalation.service import Escalation
from knowledge.store import Pool

log = logging.getLogger(__name__)

REQUESTER = "doctor:drill"
# the events each step must leave, in the order they happen
ACTION_EVENTS = ("approval_requested", "approved", "executed")
ROLLBACK_EVENTS = ("rollback_requested", "approved", "executed")


@asynccontextmanager
async def sandbox_database(settings: Settings, pool: Pool) -> AsyncIterator[Pool]:
    """A new database beside ours, with every migration applied; dropped afterwards whatever happens."""
    name = f"supportbot_drill_{secrets.token_hex(4)}"

    async def run(statement: sql.Composed) -> None:
        async with pool.connection() as conn:
            await conn.set_autocommit(True)  # CREATE / DROP DATABASE cannot run in a transaction
            try:
                await conn.execute(statement)
            finally:
                await conn.set_autocommit(False)

    await run(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_conninfo(database_url(settings), dbname=name)
        sandbox = settings.model_copy(update={"database_url": SecretStr(url), "db_pool_max": 2})
        async with open_pool(sandbox) as sandbox_pool:
            await migrate(sandbox_pool)
            yield sandbox_pool
    finally:
        await run(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def run_drill(settings: Settings, pool: Pool, policy: Policy) -> list[Check]:
    acting = {name: workflow for name, workflow in policy.workflows.items() if workflow.action}
    if not acting:
        return [passed("drill", "the policy declares no actions to drill")]
    try:
        async with (
            sandbox_database(settings, pool) as sandbox,
            open_executors(settings, sandbox, dry_run=True) as executors,
        ):
            escalation = Escalation(sandbox, policy, executors, lease=settings.lease)
            drilled = [await _drill(escalation, name, workflow) for name, workflow in acting.items()]
    except (psycopg.Error, StorageError, MigrationError, SettingsError) as exc:
        return [
            failed(
                "drill",
                f"the sandbox database could not be set up: {exc}",
                "Grant the bot's database user CREATEDB (the drill runs in a throw-away database) and run it again.",
            )
        ]
    checks = []
    for name, (check, trail) in zip(acting, drilled, strict=True):
        await audit.AuditLog(pool).record(
            "doctor_drill",
            actor=REQUESTER,
            workflow=name,
            detail={"status": check.status.value, "detail": check.detail, "sandbox_audit": trail},
        )
        checks.append(check)
    return checks


def _approvers(workflow: WorkflowPolicy) -> tuple[Actor, Actor]:
    """Two different people the policy lets decide (a rollback is approved by someone other than its requester)."""
    groups = frozenset(entry.removeprefix("group:") for entry in workflow.approvers if entry.startswith("group:"))
    people = [entry for entry in workflow.approvers if not entry.startswith("group:")]
    if groups or not people:  # no approvers at all: team leads decide
        return Actor("doctor:approver-1", Role.LEAD, groups), Actor("doctor:approver-2", Role.LEAD, groups)
    return Actor(people[0], Role.LEAD), Actor(people[-1], Role.LEAD)


async def _drill(escalation: Escalation, name: str, workflow: WorkflowPolicy) -> tuple[Check, list[str]]:
    """Returns the line and the sandbox audit trail (`approval id: event` in order)."""
    check = f"drill.{name}"
    assert workflow.action is not None
    if workflow.drill is None:
        return warned(
            check,
            f"{workflow.action} was not drilled: {name} has no `drill:` parameters",
            f"Add `drill:` with sample parameters for {workflow.action} to {name} in POLICY_FILE.",
        ), []
    first, second = _approvers(workflow)
    proposal = ProposedAction(
        workflow=name, action=workflow.action, params=dict(workflow.drill), requested_by=REQUESTER
    )
    outcome = PolicyOutcome(OutcomeKind.NEEDS_APPROVAL, "doctor_drill", "supportbot doctor --drill")
    steps: list[tuple[str, str, tuple[str, ...]]] = []  # (action, approval id, events it must have)
    try:
        created = await escalation.approvals.create(proposal, outcome, state=ApprovalState.PENDING)
        done = (await escalation.approve(created.id, first))[0].approval
        steps.append((workflow.action, done.id, ACTION_EVENTS + (("rolled_back",) if workflow.rollback else ())))
        if done.state is ApprovalState.EXECUTED and workflow.rollback:
            undo = await escalation.request_undo(done.id, first)
            undone = (await escalation.approve(undo.id, second))[0].approval
            steps.append((workflow.rollback, undone.id, ROLLBACK_EVENTS))
    except EscalationError as exc:
        return failed(check, f"the drill of {workflow.action} was refused: {exc}", _FIX_POLICY), []
    found = []
    for action, approval_id, expected in steps:
        approval = await escalation.approval(approval_id)
        assert approval is not None
        events = [event.event for event in await escalation.audit.events(subject=("approval", approval_id))]
        found.append((action, approval, events, expected))
    trail = [f"{approval.id}: {event}" for _, approval, events, _ in found for event in events]
    for action, approval, _, _ in found:  # what ran first: a failed rollback also leaves its action unrolled
        if approval.state not in (ApprovalState.EXECUTED, ApprovalState.ROLLED_BACK):
            return failed(
                check, f"{action} failed in the sandbox: {approval.last_error}", _FIX_EXECUTOR.format(action=action)
            ), trail
    shown = []
    for action, approval, events, expected in found:
        missing = [event for event in expected if event not in events]
        if missing:
            return failed(
                check,
                f"{action} ran but the audit trail lacks {', '.join(missing)} (it has {', '.join(events)})",
                "Report this: every step of an action must be audited in the same transaction as the step itself.",
            ), trail
        summary = (approval.result or {}).get("summary", "done")
        shown.append(f"{action} ({summary}) audited {' → '.join(events)}")
    return passed(check, "; then ".join(shown)), trail


_FIX_POLICY = "Make the drill parameters valid for the action and the approvers ones the policy accepts."
_FIX_EXECUTOR = (
    "Make {action} work with the drill parameters on its executor (the demo data, or your back end honouring "
    "the dry-run flag)."
)
