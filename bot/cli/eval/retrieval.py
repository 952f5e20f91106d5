"""`supportbot eval retrieval`: recall and MRR of each search mode on public question sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.common import progress_bar, questions_over, run_async, settings
from bot.services import open_services
from knowledge.calibration import CANDIDATE_FUSIONS
from knowledge.evaluation import RetrievalEvaluation, load_questions
from knowledge.models import SearchMode

out = Console()


@run_async
async def retrieval(
    docs: Annotated[Path, typer.Option(exists=True, file_okay=False, help="Folder of documents; id = file stem.")],
    questions: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help='JSONL: {"question": …, "gold_doc_ids": […]}.')
    ],
    k: Annotated[int, typer.Option(min=1, max=100, help="Cut-off for MRR and the widest recall.")] = 10,
    mode: Annotated[str, typer.Option(help="all, hybrid, dense or fts.")] = "all",
    sweep: Annotated[
        bool, typer.Option("--sweep", help="Also hybrid with every fusion `eval calibrate-fusion` chooses from.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Recall@1/5/10 and MRR@10 for dense, full-text and hybrid search (default fusion), side by side."""
    if mode == "all":
        modes = [SearchMode.HYBRID, SearchMode.DENSE, SearchMode.FTS]
    else:
        try:
            modes = [SearchMode(mode)]
        except ValueError:
            raise typer.BadParameter("use all, hybrid, dense or fts", param_hint="--mode") from None
    items = load_questions(questions)
    async with open_services(settings()) as services:
        evaluation = RetrievalEvaluation(services.store, services.ingestor, services.searcher)
        with progress_bar() as bar:
            task = bar.add_task("evaluating", total=len(items))
            figures, summary = await evaluation.run(
                docs,
                items,
                modes=modes,
                k=k,
                fusions=CANDIDATE_FUSIONS if sweep else (),
                on_question=lambda: bar.advance(task),
            )
    if as_json:
        out.print_json(data=figures)
        return
    out.print(questions_over(len(items), len(summary.added), len(summary.skipped)), highlight=False)
    metrics = list(next(iter(figures.values())))
    table = Table("mode", *metrics)
    for name, values in figures.items():
        table.add_row(name, *(f"{values[metric]:.3f}" for metric in metrics))
    out.print(table)
