"""`supportbot explain DECISION_ID`: handlers/explain/ tells the chain; this prints it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from bot.cli.common import run_async, settings
from bot.scenario_eval import settings_for_database
from bot.services import open_services
from handlers.decisions import DecisionStore
from handlers.explain.chain import DecisionExplainer

out = Console(highlight=False)


@run_async
async def explain_command(
    decision_id: Annotated[str, typer.Argument(help="dec_… from a reply or the audit trail.")],
    database: Annotated[
        str | None,
        typer.Option(help="Another database of the same server: a scenario run's (`eval scenarios` prints it)."),
    ] = None,
) -> None:
    """How a decision was made: message, route, passages, model, policy rule, approval, action, reply."""
    config = settings_for_database(settings(), database) if database else settings()
    async with open_services(config, check_embedder=False) as services:
        text = await DecisionExplainer(DecisionStore(services.pool), services.escalation).explain(decision_id)
    out.print(text, markup=False)
