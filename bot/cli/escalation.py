"""Escalation commands: autonomy, kill switch and the audit trail (approvals and hand-offs: approvals.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.common import By, run_async, settings
from bot.services import open_services
from escalation.audit_format import as_csv, as_dict, describe
from escalation.durations import parse_duration
from escalation.errors import PromotionRefused
from escalation.models import Actor, Role, Stage

out = Console()
autonomy_app = typer.Typer(help="Staged autonomy per workflow: shadow → approve → auto.", no_args_is_help=True)


class AuditFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@autonomy_app.command("show")
@run_async
async def autonomy_show() -> None:
    """Each workflow's stage, who set it, and whether the numbers allow promotion."""
    async with open_services(settings(), check_embedder=False) as services:
        autonomy = services.escalation.autonomy
        table = Table("workflow", "stage", "set by", "last two weeks (decisions, unchanged)", "promotion")
        for name, (stage, by, at) in (await autonomy.stages()).items():
            policy = services.escalation.policy.workflows[name]
            if policy.action is None:
                table.add_row(name, stage.value, by or "policy file", "—", "no action to automate")
                continue
            readiness = await autonomy.readiness(name)
            weeks = ", ".join(f"{w.decisions} / {w.unchanged_share:.0%}" for w in readiness.weeks)
            verdict = (
                f"[green]ready for {readiness.next_stage}[/]" if readiness.ready else "; ".join(readiness.blockers)
            )
            when = f" {at:%Y-%m-%d}" if at else ""
            table.add_row(name, stage.value, (by or "policy file") + when, weeks, verdict)
    out.print(table)


@autonomy_app.command("set")
@run_async
async def autonomy_set(
    workflow: Annotated[str, typer.Argument(help="Workflow name from the policy file.")],
    stage: Annotated[Stage, typer.Argument(help="shadow, approve or auto.")],
    by: By,
    reason: Annotated[str | None, typer.Option(help="Why; shown in the audit trail.")] = None,
) -> None:
    """Move a workflow to another stage (recorded in the audit trail)."""
    async with open_services(settings(), check_embedder=False) as services:
        try:
            before = await services.escalation.autonomy.promote(workflow, stage, by=Actor(by, Role.LEAD), reason=reason)
        except PromotionRefused as exc:
            out.print(f"[red]Not promoted:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
    out.print(f"{workflow}: {before.value} → {stage.value} (by {by})", highlight=False)


@run_async
async def killswitch(
    state: Annotated[str, typer.Argument(help="on: every action waits for a human; off: stages apply again.")], by: By
) -> None:
    """Send every action to human approval, or stop doing so."""
    if state not in {"on", "off"}:
        raise typer.BadParameter("use on or off", param_hint="STATE")
    async with open_services(settings(), check_embedder=False) as services:
        await services.escalation.autonomy.set_kill_switch(state == "on", by=Actor(by, Role.LEAD))
    out.print(f"kill switch {state} (by {by})", highlight=False)


@run_async
async def audit(
    since: Annotated[str, typer.Option(help="How far back (e.g. 7d, 12h).")] = "7d",
    workflow: Annotated[str | None, typer.Option(help="Only this workflow.")] = None,
    output: Annotated[AuditFormat, typer.Option("--format", help="table, csv or json.")] = AuditFormat.TABLE,
) -> None:
    """The append-only history: proposals, policy outcomes, decisions, executions, rollbacks, hand-offs."""
    start = datetime.now(UTC) - parse_duration(since)
    async with open_services(settings(), check_embedder=False) as services:
        events = await services.escalation.audit.events(since=start, workflow=workflow)
    if output is AuditFormat.JSON:
        print(json.dumps([as_dict(event) for event in events], indent=2, default=str))
    elif output is AuditFormat.CSV:
        print(as_csv(events), end="")
    else:
        table = Table("time (UTC)", "event", "actor", "workflow", "subject", "what happened")
        for event in events:
            subject = f"{event.subject_type}:{event.subject_id}" if event.subject_type else ""
            table.add_row(
                f"{event.at:%Y-%m-%d %H:%M:%S}",
                event.event,
                event.actor,
                event.workflow or "",
                subject,
                describe(event),
            )
        out.print(table)
        out.print(f"{len(events)} events since {start:%Y-%m-%d %H:%M} UTC")
