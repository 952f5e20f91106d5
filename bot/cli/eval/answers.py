"""`supportbot eval answers`: key-phrase hit rate, citation precision and length of answers, offline and drafted."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.common import progress_bar, questions_over, run_async, settings
from bot.core_factory import build_language_model
from bot.services import open_services
from handlers.answer_eval import load_answer_questions, summarise
from handlers.answer_eval_run import AnswerEvaluation, EvalSetup

out = Console()


@run_async
async def answers(
    docs: Annotated[Path, typer.Option(exists=True, file_okay=False, help="Folder of documents; id = file stem.")],
    questions: Annotated[
        Path,
        typer.Option(
            exists=True,
            dir_okay=False,
            help='JSONL: {"id", "question", "doc", "must": […], "must_not": […], "kind", "after": <earlier id>}.',
        ),
    ],
    details: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Also write every answer and its judgement here (JSONL).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Key-phrase hit rate, citation precision and answer length, offline and (when LLM_MODEL is set) drafted."""
    try:
        items = load_answer_questions(questions)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--questions") from None
    loaded = settings()
    model = build_language_model(loaded)
    try:
        async with open_services(loaded) as services:
            answer = services.escalation.policy.workflow("answer")
            setup = EvalSetup(threshold=answer.confidence_threshold if answer else 0.6)
            evaluation = AnswerEvaluation(services.store, services.ingestor, services.searcher, setup, model=model)
            with progress_bar() as bar:
                task = bar.add_task("answering", total=len(items))
                judged, summary = await evaluation.run(docs, items, on_question=lambda: bar.advance(task))
    finally:
        if model is not None:
            await model.close()
    if details is not None:
        with details.open("w", encoding="utf-8") as file:
            for mode, rows in judged.items():
                for row in rows:
                    file.write(json.dumps({"mode": mode, **dataclasses.asdict(row)}, ensure_ascii=False) + "\n")
    figures = {mode: summarise(rows) for mode, rows in judged.items()}
    if as_json:
        out.print_json(data=figures)
        return
    out.print(questions_over(len(items), len(summary.added), len(summary.skipped)), highlight=False)
    table = Table("measure", *figures)
    for key, name in _ANSWER_ROWS.items():
        table.add_row(name, *(_shown(values[key]) for values in figures.values()))
    out.print(table)


_ANSWER_ROWS = {
    "key_phrase_hit_rate": "key-phrase hit rate",
    "fully_answered": "every key phrase, none forbidden",
    "must_not_violations": "answers with a forbidden phrase",
    "citation_precision": "citation precision",
    "lead_document_accuracy": "first citation is the expected document",
    "median_words": "median answer (words)",
    "p90_words": "90th percentile answer (words)",
    "flattened_tables": "answers quoting a table as pipes",
    "led_without_the_code": "led by a passage without the asked code",
    "answered": "answered (not 'not sure')",
}


def _shown(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) and not value.is_integer() else str(value)
