"""`supportbot digest`: preview the weekly digest, or post it by hand."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli.common import run_async, settings
from bot.publishers import NOT_CONFIGURED, digest_publishers
from bot.services import open_services
from scheduler.digest.build import DigestSources, build_digest
from scheduler.digest.chart import render_chart
from scheduler.digest.delivery import DigestError, deliver
from scheduler.digest.render import render_markdown, render_text
from scheduler.digest.weeks import IsoWeek, last_complete_week

err = Console(stderr=True, highlight=False)


class DigestFormat(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"


def _week(value: str | None) -> IsoWeek | None:
    if value is None:
        return None
    try:
        return IsoWeek.parse(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--week") from None


@run_async
async def digest(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2026-W47 (default: the last complete week).")] = None,
    org: Annotated[str | None, typer.Option(help="Only this customer org (default: every org).")] = None,
    output: Annotated[DigestFormat, typer.Option("--format", help="text, markdown or json.")] = DigestFormat.TEXT,
    post: Annotated[bool, typer.Option("--post", help="Also post it to the Slack / Teams digest channel.")] = False,
    chart: Annotated[Path | None, typer.Option(help="Write the 8-week chart to this PNG file.")] = None,
) -> None:
    """The weekly digest: KPIs with week-over-week change, exceptions, knowledge gaps and autonomy."""
    config = settings()
    chosen = _week(week) or last_complete_week(datetime.now(config.zone), config.zone)
    async with open_services(config, check_embedder=False) as services:
        publishers = digest_publishers(services) if post else []
        if post and not publishers:  # before the work, so the mistake costs nothing
            err.print(f"[bold red]error:[/] {NOT_CONFIGURED}", soft_wrap=True)
            raise typer.Exit(1)
        sources = DigestSources.build(services.pool, services.escalation, services.store, gaps=services.gaps)
        built = await build_digest(
            sources, chosen, zone=config.zone, org=org, minutes_per_ticket=config.minutes_per_ticket
        )
        if output is DigestFormat.JSON:
            typer.echo(json.dumps(built.to_dict(), indent=2))
        else:
            typer.echo(render_markdown(built) if output is DigestFormat.MARKDOWN else render_text(built), nl=False)
        if chart is not None:
            chart.write_bytes(render_chart(built))
            err.print(f"chart written to {chart}")
        if post:
            try:
                summary = await deliver(built, publishers, queries=sources.queries, source=f"cli:{chosen}")
            except DigestError as exc:
                err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
                raise typer.Exit(1) from None
            err.print(summary)


def register(app: typer.Typer) -> None:
    app.command("digest")(digest)
