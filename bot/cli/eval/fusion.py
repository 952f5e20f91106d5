"""`supportbot eval calibrate-fusion`: choose an org's hybrid-search fusion on the org's own questions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.common import progress_bar, run_async, settings
from bot.services import open_services
from knowledge.calibration import CANDIDATE_FUSIONS, DENSE, check_enough, choose_fusion
from knowledge.evaluation import load_questions, measure_fusions, questions_file_of
from knowledge.sources import QUESTIONS_FILE

out = Console()


@run_async
async def calibrate_fusion(
    org: Annotated[str, typer.Option(help="The customer org whose fusion to choose.")],
    questions: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help=f'JSONL {{"question", "gold_doc_ids"}}; default: {QUESTIONS_FILE} in --docs, or at the root of '
            "the folder the org's documents were ingested from.",
        ),
    ] = None,
    docs: Annotated[
        Path | None, typer.Option(file_okay=False, help=f"The org's documents folder (where {QUESTIONS_FILE} is).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Measure and show; store nothing.")] = False,
    clear: Annotated[bool, typer.Option("--clear", help="Forget the org's fusion: back to the default.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Measure every candidate fusion on the org's questions and keep the best that never loses to dense."""
    org = org.strip().lower()  # orgs are stored lower-case, as ingestion stores them
    async with open_services(settings()) as services:
        searcher = services.searcher
        if clear:
            cleared = await searcher.org_fusion.clear(org)
            out.print(f"{org}: " + ("back to the default fusion" if cleared else "had no fusion of its own"))
            return
        own = await services.store.documents(org=org, include_public=False)
        if not own:
            raise ValueError(f"org {org!r} has no documents: ingest them first (supportbot ingest PATH --org {org})")
        path = questions or (docs / QUESTIONS_FILE if docs is not None else questions_file_of(own))
        if not path.is_file():
            raise ValueError(f"no questions file at {path}")
        items = load_questions(path)
        check_enough(len(items))
        visible = {doc.doc_key.rsplit("/", 1)[-1] for doc in await services.store.documents(org=org)}
        unknown = sum(1 for item in items if not item.gold & visible)
        default = searcher.default_fusion
        fusions = list(dict.fromkeys([default, *CANDIDATE_FUSIONS]))
        with progress_bar() as bar:
            task = bar.add_task("measuring", total=len(items))
            figures = await measure_fusions(searcher, items, fusions, org=org, on_question=lambda: bar.advance(task))
        choice = choose_fusion(figures, default=default)
        if not dry_run:
            await searcher.org_fusion.set(org, choice.fusion, questions=len(items), figures=figures)
    if as_json:
        out.print_json(
            data={
                "org": org,
                "questions": len(items),
                "questions_without_their_document": unknown,
                "chosen": choice.fusion.label,
                "default": default.label,
                "stored": not dry_run,
                "reason": choice.reason,
                "figures": figures,
            }
        )
        return
    out.print(f"{len(items)} questions from {path}", highlight=False)
    if unknown:
        out.print(
            f"[yellow]{unknown} question(s) name no document the org can see: no setting can find them[/]",
            highlight=False,
        )
    metrics = list(next(iter(figures.values())))
    table = Table("fusion", *metrics, "")
    for label, values in figures.items():
        note = "chosen" if label == choice.fusion.label else ""
        if label == default.label:
            note = ", ".join(filter(None, [note, "default"]))
        if label == DENSE.label:
            note = ", ".join(filter(None, [note, "= dense alone"]))
        table.add_row(label, *(f"{values[metric]:.3f}" for metric in metrics), note)
    out.print(table)
    verb = "would now search" if dry_run else "now searches"
    out.print(f"{org} {verb} with {choice.fusion.label}: {choice.reason}", highlight=False)
