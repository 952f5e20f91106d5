"""`supportbot demo`: fill a fresh install with eight weeks of the sample company's support, or remove it."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bot.cli.common import run_async, settings
from bot.demo.run import DemoOptions, clear_demo, play_demo
from bot.demo.store import DemoCounts
from bot.services import open_services

err = Console(stderr=True, highlight=False)


def _counts(counts: DemoCounts) -> str:
    return (
        f"{counts.conversations} conversations, {counts.decisions} decisions, {counts.approvals} approvals, "
        f"{counts.handoffs} hand-offs, {counts.audit_rows} audit rows"
    )


@run_async
async def demo(
    weeks: Annotated[int, typer.Option(help="How many weeks back the conversations go.")] = 8,
    per_week: Annotated[int, typer.Option(help="Conversations in an average week.")] = 40,
    seed: Annotated[int, typer.Option(help="Another seed plays other (equally plausible) conversations.")] = 7,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the demo's rows (and only them), then stop.")] = False,
) -> None:
    """Play scripted conversations of the sample company through the real core, dated over the last weeks:
    answers, feedback, refunds approved, edited, denied, expired and undone, hand-offs, a failed webhook.
    Every row they leave belongs to a conversation whose key starts with `demo:`; a new run replaces them."""
    config = settings()
    # the script's back-end outage is on purpose: its webhook retries are not news on this terminal
    logging.getLogger("escalation.webhook").setLevel(logging.ERROR)
    options = DemoOptions(weeks=weeks, per_week=per_week, seed=seed)
    async with open_services(config) as services:
        if clear:
            cleared = await clear_demo(services)
            if cleared.counts.empty:
                err.print("no demo data to remove")
            else:
                err.print(f"removed {_counts(cleared.counts)}, and {cleared.refunds} demo refunds")
            return
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar:
            task = bar.add_task("conversations", total=None)
            report = await play_demo(
                services,
                options,
                on_plan=lambda total: bar.update(task, total=total),
                on_conversation=lambda: bar.advance(task),
            )
    if not report.replaced.empty:
        err.print(f"replaced the earlier demo data ({_counts(report.replaced)})")
    stats = report.stats
    err.print(
        f"played {stats.conversations} conversations ({stats.steps} steps) over {weeks} week{'s' if weeks > 1 else ''}"
        f" in {report.seconds:.1f} s ({report.per_second:.1f} conversations/s)"
    )
    err.print(f"demo data: {_counts(report.counts)}; `supportbot demo --clear` removes it")
    err.print(
        "the latest requests still wait for a person: supportbot approvals list · handoffs list · digest · "
        "audit --since 14d"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
