"""`supportbot db …`: schema migrations."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.common import run_async, settings
from bot.migrate import migrate, status
from bot.storage import open_pool

app = typer.Typer(help="Database schema: apply and inspect migrations.", no_args_is_help=True)
out = Console()


@app.command("migrate")
@run_async
async def migrate_command() -> None:
    """Apply pending migrations (safe to run from several processes at once)."""
    async with open_pool(settings()) as pool:
        applied = await migrate(pool)
    if applied:
        for migration in applied:
            out.print(f"applied {migration.version:04d}_{migration.name}")
    else:
        out.print("schema is up to date")


@app.command("status")
@run_async
async def status_command() -> None:
    """List every migration and whether it is applied."""
    async with open_pool(settings()) as pool:
        states = await status(pool)
    table = Table("version", "name", "applied at")
    for state in states:
        when = state.applied_at.isoformat(timespec="seconds") if state.applied_at else "[yellow]pending[/]"
        table.add_row(f"{state.migration.version:04d}", state.migration.name, when)
    out.print(table)
    pending = sum(1 for state in states if state.applied_at is None)
    out.print(f"{len(states) - pending} applied, {pending} pending")
