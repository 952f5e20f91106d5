"""`supportbot explain DECISION_ID`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from bot.cli import run_async, settings
from bot.explain import explain
from bot.scenario_eval import settings_for_database
from bot.services import Services, open_services
from handlers.decisions import DecisionStore

out = Console(highlight=False)


async def explain_decision(services: Services, decision_id: str) -> str:
    record = await DecisionStore(services.pool).get(decision_id)
    if record is None:
        raise ValueError(f"There is no decision {decision_id}.")
    approval = await services.escalation.approval(record.approval_id) if record.approval_id else None
    events = await services.escalation.audit.events(subject=("approval", approval.id)) if approval else []
    return explain(record, approval, events)


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
        text = await explain_decision(services, decision_id)
    out.print(text, markup=False)
