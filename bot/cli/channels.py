"""`supportbot channels bind|unbind|list`: which shared channel (or customer team / tenant) speaks for which org."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.channels import ChannelStore, is_org_name
from bot.cli.common import run_async, settings
from bot.services import open_services

out = Console(highlight=False)
channels_app = typer.Typer(
    help="Bind chat channels to customer orgs. The bot answers nothing in a shared channel until it is bound.",
    no_args_is_help=True,
)
Platform = Annotated[str, typer.Option("--platform", help="slack or teams.")]
By = Annotated[str, typer.Option("--by", help="Who is binding; recorded in the audit trail.")]


def _platform(name: str) -> str:
    if name not in {"slack", "teams"}:
        raise typer.BadParameter("must be slack or teams", param_hint="--platform")
    return name


@channels_app.command("bind")
@run_async
async def bind(
    channel: Annotated[str, typer.Argument(help="Slack channel id (C…), Slack team id (T…) or Teams tenant id.")],
    org: Annotated[str, typer.Argument(help="The customer org, as in the knowledge base's front matter.")],
    platform: Platform = "slack",
    by: By = "cli",
) -> None:
    """Answer in CHANNEL from ORG's knowledge (and scope its actions to ORG)."""
    if not is_org_name(org):
        raise typer.BadParameter("lowercase letters, digits, '-', '_' or '.'", param_hint="ORG")
    async with open_services(settings(), check_embedder=False) as services:
        await ChannelStore(services.pool).bind(_platform(platform), channel, org, bound_by=by)
        await services.escalation.audit.record(
            "channel_bound", actor=by, org=org.lower(), detail={"platform": platform, "channel": channel}
        )
    out.print(f"{platform} {channel} → {org.lower()}")


@channels_app.command("unbind")
@run_async
async def unbind(
    channel: Annotated[str, typer.Argument(help="The channel, team or tenant id to disconnect.")],
    platform: Platform = "slack",
    by: By = "cli",
) -> None:
    """Stop answering in CHANNEL (fail closed from the next message on)."""
    async with open_services(settings(), check_embedder=False) as services:
        removed = await ChannelStore(services.pool).unbind(_platform(platform), channel)
        if removed:
            await services.escalation.audit.record(
                "channel_unbound", actor=by, detail={"platform": platform, "channel": channel}
            )
    if not removed:
        out.print(f"{platform} {channel} was not bound")
        raise typer.Exit(1)
    out.print(f"{platform} {channel} unbound")


@channels_app.command("list")
@run_async
async def list_bindings(
    platform: Annotated[str | None, typer.Option("--platform", help="slack or teams.")] = None,
) -> None:
    """Every binding, with who made it and when."""
    async with open_services(settings(), check_embedder=False) as services:
        bindings = await ChannelStore(services.pool).bindings(_platform(platform) if platform else None)
    if not bindings:
        out.print("No channel is bound yet: the bot answers nothing in shared channels.")
        return
    table = Table("platform", "channel", "org", "bound by", "when")
    for item in bindings:
        table.add_row(item.platform, item.channel_id, item.org, item.bound_by, f"{item.bound_at:%Y-%m-%d %H:%M}")
    out.print(table)
