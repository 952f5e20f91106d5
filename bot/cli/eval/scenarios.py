"""`supportbot eval scenarios` and `supportbot eval history`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.common import progress_bar, run_async, settings
from bot.core_factory import start_language_model
from bot.scenario_eval import ModeRun, load_knowledge, run_modes, scenario_services
from bot.services import open_services
from handlers.eval_history import EvalHistory
from handlers.scenario_load import ScenarioFileError, load_scenarios
from knowledge.sources import KnowledgeSources, Source

out = Console(highlight=False)


@run_async
async def scenarios(
    paths: Annotated[list[Path], typer.Argument(help="Scenario files or folders of them (*.yaml).")],
    runs: Annotated[int, typer.Option("--runs", min=1, max=20, help="Attempts per scenario (pass^k).")] = 1,
    docs: Annotated[
        list[Path] | None,
        typer.Option(exists=True, help="Knowledge to load (repeatable); default: the folders `ingest` was given."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run scripted conversations through the real core on a throw-away database: pass rate, pass^k, and the
    first failed expectation of each failing scenario with its decision (for `supportbot explain`)."""
    try:
        loaded = load_scenarios(paths)
    except ScenarioFileError as exc:
        out.print(f"[red]{len(exc.problems)} problem(s) in the scenario files:[/]")
        for problem in exc.problems:
            out.print(f"  {problem}", markup=False)
        raise typer.Exit(2) from None
    config = settings()
    async with open_services(config) as configured:
        sources = (
            [Source(path.resolve(), None) for path in docs]
            if docs
            else await KnowledgeSources(configured.pool).sources()
        )
        if not sources:
            raise typer.BadParameter("nothing ingested yet: give the knowledge with --docs DIR", param_hint="--docs")
        model = await start_language_model(config)
        try:
            async with scenario_services(config, embedder=configured.embedder) as (services, database):
                with progress_bar() as bar:
                    task = bar.add_task("loading knowledge", total=None)
                    await load_knowledge(services, sources)
                    modes = 2 if model is not None else 1
                    bar.update(task, description="scenarios", total=len(loaded) * runs * modes, completed=0)
                    done = await run_modes(
                        services, loaded, runs=runs, model=model, on_result=lambda _: bar.advance(task)
                    )
        finally:
            if model is not None:
                await model.close()
        history = EvalHistory(configured.pool)
        for mode in done:
            await history.add(
                kind="scenarios",
                mode=mode.summary.mode,
                figures=mode.summary.as_dict(),
                fingerprint=mode.fingerprint,
                source="cli",
                database=database,
            )
    _report(done, database, as_json=as_json)
    if any(mode.summary.failures for mode in done):
        raise typer.Exit(1)


def _report(done: list[ModeRun], database: str, *, as_json: bool) -> None:
    if as_json:
        out.print_json(data={"database": database, "modes": [mode.summary.as_dict() for mode in done]})
        return
    k = done[0].summary.runs
    table = Table("mode", "scenarios", "pass rate", f"pass^{k}", "seconds", "scenarios/s")
    for mode in done:
        s = mode.summary
        table.add_row(
            s.mode,
            str(s.scenarios),
            f"{s.pass_rate:.3f}",
            f"{s.pass_hat_k:.3f}",
            f"{s.seconds:.1f}",
            f"{s.scenarios_per_second:.2f}",
        )
    out.print(table)
    for mode in done:
        for result in mode.summary.failures:
            assert result.failure is not None
            out.print(
                f"[red]FAIL[/] {mode.summary.mode} {result.id} ({result.source}): {result.failure.step}: "
                f"{result.failure.mismatch}"
            )
            if result.failure.decision_id:
                out.print(f"     supportbot explain {result.failure.decision_id} --database {database}", markup=False)
    out.print(f"decisions kept in database {database}", markup=False)


@run_async
async def history(
    kind: Annotated[str | None, typer.Option(help="scenarios or retrieval; default: both.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs, newest first.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The stored evaluation runs (the weekly job's and the command's): figures and what they ran on."""
    async with open_services(settings(), check_embedder=False) as services:
        runs = await EvalHistory(services.pool).runs(kind=kind, limit=limit)
    if as_json:
        out.print_json(
            data=[
                {
                    "ran_at": run.ran_at.isoformat(),
                    "kind": run.kind,
                    "mode": run.mode,
                    "org": run.org or None,
                    "source": run.source,
                    "figures": run.figures,
                    "fingerprint": run.fingerprint.as_dict(),
                    "database": run.database,
                }
                for run in runs
            ]
        )
        return
    table = Table("ran at (UTC)", "kind", "mode", "org", "figures", "policy / prompts / model / knowledge", "source")
    for run in runs:
        table.add_row(
            f"{run.ran_at:%Y-%m-%d %H:%M}",
            run.kind,
            run.mode,
            run.org or "—",
            headline(run.kind, run.figures),
            " / ".join(run.fingerprint.as_dict().values()),
            run.source,
        )
    out.print(table)


def headline(kind: str, figures: dict[str, object]) -> str:
    if kind == "scenarios":
        k = figures.get("runs", 1)
        return (
            f"pass rate {_num(figures.get('pass_rate'))}, pass^{k} {_num(figures.get(f'pass^{k}'))} "
            f"({figures.get('scenarios')} scenarios)"
        )
    return f"recall@1 {_num(figures.get('recall@1'))}, recall@5 {_num(figures.get('recall@5'))}, " + (
        f"MRR {_num(figures.get('mrr@10'))}"
    )


def _num(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "—"
