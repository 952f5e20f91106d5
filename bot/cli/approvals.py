"""`supportbot approvals …` and `supportbot handoffs …`: decide and follow up from a terminal."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.common import By, Groups, RoleOption, actor, run_async, settings
from bot.services import open_services, open_serving_services
from escalation.formatting import approval_input_facts
from escalation.handoffs import HandoffService
from escalation.models import Actor, Approval, ApprovalState, Handoff, ProposedAction, Role

out = Console()
approvals_app = typer.Typer(help="Approvals: list, propose, approve, deny, undo.", no_args_is_help=True)
handoffs_app = typer.Typer(help="Hand-offs to humans: list, claim, hand back, close.", no_args_is_help=True)


def _show(approval: Approval) -> None:
    out.print(
        f"{approval.id} [{approval.state.value}] {approval.workflow}/{approval.action} {json.dumps(approval.params)}"
        + (f" — {approval.result['summary']}" if approval.result else "")
        + (f" — error: {approval.last_error}" if approval.last_error else ""),
        highlight=False,
        markup=False,
    )
    if approval.input_sources:  # a value the customer never typed stands out before anyone approves it
        out.print(f"  inputs: {_inputs(approval)}", highlight=False, markup=False)


def _inputs(approval: Approval) -> str:
    """Each input with where it came from, when the conversation core said; else the params as JSON."""
    if not approval.input_sources:
        return json.dumps(approval.params)
    return "; ".join(f"{key}={shown}" for key, shown in approval_input_facts(approval))


def _params(pairs: list[str] | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint="--param")
        params[key] = int(value) if value.lstrip("-").isdigit() else value
    return params


@approvals_app.command("list")
@run_async
async def list_approvals(
    state: Annotated[list[ApprovalState] | None, typer.Option(help="Only these states (repeatable).")] = None,
) -> None:
    """Recent approvals, newest first."""
    async with open_services(settings(), check_embedder=False) as services:
        approvals = await services.escalation.list_approvals(states=tuple(state) if state else None)
    table = Table("id", "state", "workflow", "action", "inputs", "requested by", "decided by", "created")
    for a in approvals:
        table.add_row(
            a.id,
            a.state.value,
            a.workflow,
            a.action,
            _inputs(a),
            a.requested_by,
            a.decided_by or "",
            f"{a.created_at:%Y-%m-%d %H:%M}",
        )
    out.print(table)


@approvals_app.command("propose")
@run_async
async def propose(
    workflow: Annotated[str, typer.Argument(help="Workflow from the policy file, e.g. refund.")],
    by: By,
    param: Annotated[list[str] | None, typer.Option(help="Action input as key=value (repeatable).")] = None,
    org: Annotated[str | None, typer.Option(help="The customer's org.")] = None,
    conversation: Annotated[str | None, typer.Option(help="Conversation key to link.")] = None,
) -> None:
    """Propose a workflow's action on a customer's behalf; policy decides what happens next."""
    params = _params(param)
    async with open_serving_services(settings(), check_embedder=False) as services:
        policy = services.escalation.policy.workflow(workflow)
        if policy is None or policy.action is None:
            raise typer.BadParameter(f"{workflow} is not a workflow with an action", param_hint="WORKFLOW")
        amount = params.get("amount_cents")
        result = await services.escalation.propose(
            ProposedAction(
                workflow=workflow,
                action=policy.action,
                params=params,
                requested_by=by,
                org=org.lower() if org else None,
                conversation_key=conversation,
                amount_cents=amount if isinstance(amount, int) else None,
            )
        )
    out.print(f"policy: {result.outcome.kind.value} ({result.outcome.rule}): {result.outcome.reason}", highlight=False)
    if result.approval:
        _show(result.approval)
    if result.handoff:
        out.print(f"handed to a human: {result.handoff.id} ({result.handoff.assigned_to})", highlight=False)


@approvals_app.command("approve")
@run_async
async def approve(
    approval_id: Annotated[str, typer.Argument(help="apr_…")],
    by: By,
    role: RoleOption = Role.STAFF,
    group: Groups = None,
    amount_cents: Annotated[int | None, typer.Option(help="Approve with this amount instead.")] = None,
    note: Annotated[str | None, typer.Option(help="A note for the audit trail.")] = None,
) -> None:
    """Approve as proposed, or with an edited amount; the action then runs once."""
    async with open_serving_services(settings(), check_embedder=False) as services:
        decision, handoff = await services.escalation.approve(
            approval_id, actor(by, role, group), amount_cents=amount_cents, note=note
        )
    out.print(decision.message, highlight=False)
    _show(decision.approval)
    if handoff:
        out.print(f"handed to a human: {handoff.id}", highlight=False)


@approvals_app.command("deny")
@run_async
async def deny(
    approval_id: Annotated[str, typer.Argument(help="apr_…")],
    by: By,
    reason: Annotated[str, typer.Option(help="Why; the customer is told a person will follow up.")],
    role: RoleOption = Role.STAFF,
    group: Groups = None,
) -> None:
    """Deny with a reason."""
    async with open_services(settings(), check_embedder=False) as services:
        decision = await services.escalation.deny(approval_id, actor(by, role, group), reason=reason)
    out.print(decision.message, highlight=False)


@approvals_app.command("undo")
@run_async
async def undo(
    approval_id: Annotated[str, typer.Argument(help="The executed approval to undo.")],
    by: By,
    role: RoleOption = Role.STAFF,
    group: Groups = None,
) -> None:
    """Request the declared rollback of an executed action; the undo itself needs approval."""
    async with open_services(settings(), check_embedder=False) as services:
        request = await services.escalation.request_undo(approval_id, actor(by, role, group))
    out.print("undo requested; approve it to run:", highlight=False)
    _show(request)


@handoffs_app.command("list")
@run_async
async def list_handoffs() -> None:
    """Hand-offs that are not closed."""
    async with open_services(settings(), check_embedder=False) as services:
        handoffs = await services.escalation.handoffs.open_handoffs()
    table = Table("id", "state", "level", "assigned to", "claimed by", "workflow", "reason", "created")
    for h in handoffs:
        table.add_row(
            h.id,
            h.state.value,
            str(h.level),
            h.assigned_to or "",
            h.claimed_by or "",
            h.workflow or "",
            h.reason,
            f"{h.created_at:%Y-%m-%d %H:%M}",
        )
    out.print(table)


@handoffs_app.command("claim")
@run_async
async def claim(handoff_id: str, by: By, role: RoleOption = Role.STAFF) -> None:
    """Take the conversation over: the bot stays quiet in it until handed back."""
    handoff = await _move_handoff(handoff_id, by, role, HandoffService.claim)
    out.print(f"{handoff.id} claimed by {handoff.claimed_by}", highlight=False)


@handoffs_app.command("back")
@run_async
async def hand_back(handoff_id: str, by: By, role: RoleOption = Role.STAFF) -> None:
    """Give the conversation back to the bot."""
    handoff = await _move_handoff(handoff_id, by, role, HandoffService.hand_back)
    out.print(f"{handoff.id} handed back to the bot", highlight=False)


@handoffs_app.command("close")
@run_async
async def close(handoff_id: str, by: By, role: RoleOption = Role.STAFF) -> None:
    """Close a hand-off."""
    handoff = await _move_handoff(handoff_id, by, role, HandoffService.close)
    out.print(f"{handoff.id} closed", highlight=False)


async def _move_handoff(
    handoff_id: str, by: str, role: Role, move: Callable[[HandoffService, str, Actor], Awaitable[Handoff]]
) -> Handoff:
    async with open_services(settings(), check_embedder=False) as services:
        return await move(services.escalation.handoffs, handoff_id, actor(by, role, None))
