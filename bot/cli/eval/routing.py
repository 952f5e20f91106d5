"""`supportbot eval routing`: the offline router on public intent sets, and its out-of-scope frontier."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.common import run_async, settings
from bot.services import build_embedder

if TYPE_CHECKING:
    from handlers.routing_eval import RoutingReport

out = Console()
Figures = dict[str, float | None]


@run_async
async def routing(
    train: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, help='JSONL {"text", "label"} to fit on; "oos" lines are skipped.'),
    ],
    test: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="JSONL to score; never used to choose anything.")
    ] = None,
    validation: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help='JSONL with "oos" lines to choose the out-of-scope threshold.'),
    ] = None,
    oos_recall: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Out-of-scope recall the threshold must reach on --validation's out-of-scope lines pooled with "
            "held-out intents' lines; 0 = best weighted accuracy instead. Default: ROUTING_OOS_RECALL.",
        ),
    ] = None,
    holdout_folds: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=20,
            help="Split the training intents into this many folds; each fold's lines, routed without its intents, "
            "count as out of scope when the threshold is chosen. 0 = --validation's out-of-scope lines alone. "
            "Default: ROUTING_HOLDOUT_FOLDS.",
        ),
    ] = None,
    folds: Annotated[
        int | None, typer.Option(min=2, max=20, help="Also cross-validate on --train alone with this many folds.")
    ] = None,
    show_frontier: Annotated[
        bool, typer.Option("--frontier", help="Print threshold → in-scope accuracy, out-of-scope recall.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Accuracy, macro-F1 and out-of-scope precision/recall of the offline embedding router."""
    # scikit-learn loads in about a second: only this command pays for it
    from handlers.routing_eval import cross_validate, evaluate_routing, load_examples

    if test is None and validation is None and folds is None:
        raise typer.BadParameter("give --test, --validation or --folds: there is nothing to score", param_hint="--test")
    loaded = settings()
    target = loaded.routing_oos_recall if oos_recall is None else oos_recall
    held_out = loaded.routing_holdout_folds if holdout_folds is None else holdout_folds
    if held_out == 1:
        raise typer.BadParameter(
            "0 (off) or at least 2: one fold would hold out every intent", param_hint="--holdout-folds"
        )
    train_set = load_examples(train)
    test_set = load_examples(test) if test is not None else None
    validation_set = load_examples(validation) if validation is not None else None
    embedder = await build_embedder(loaded)
    try:
        report = await evaluate_routing(
            embedder, train_set, test_set, validation=validation_set, oos_recall=target or None, holdout_folds=held_out
        )
        crossed = await cross_validate(embedder, train_set, folds=folds) if folds else None
    finally:
        close = getattr(embedder, "close", None)
        if close is not None:
            await close()
    cv = {key: _rounded(crossed[key]) for key in ("accuracy", "macro_f1")} if crossed else None
    if as_json:
        out.print_json(data=_as_json(report, target=target, cv=cv, folds=folds))
    else:
        _print_tables(report, target=target, cv=cv, folds=folds, show_frontier=show_frontier)


def _shown(figures: Figures | None) -> Figures | None:
    from handlers.routing_eval import METRIC_KEYS

    return {key: _rounded(figures[key]) for key in METRIC_KEYS} if figures else None


def _as_json(report: RoutingReport, *, target: float, cv: Figures | None, folds: int | None) -> dict[str, object]:
    data: dict[str, object] = {**(_shown(report.figures) or {}), "threshold": report.threshold}
    if report.validation_lines:
        data["oos_recall_target"] = target or None
        data["validation"] = _shown(report.validation_figures)
        data["holdout_folds"] = report.holdout_folds
        data["pseudo_oos_lines"] = report.pseudo_oos_lines
        data["pool_oos_recall"] = _rounded(report.pool_oos_recall)
        data["frontier"] = [dataclasses.asdict(point) for point in report.frontier]
    if cv is not None:
        data["cross_validation"] = {"folds": folds, **cv}
    return data


def _print_tables(
    report: RoutingReport, *, target: float, cv: Figures | None, folds: int | None, show_frontier: bool
) -> None:
    from handlers.routing_eval import METRIC_KEYS

    sides = [
        (name, shown)
        for name, shown in (("test", _shown(report.figures)), ("validation", _shown(report.validation_figures)))
        if shown
    ]
    if sides:
        table = Table("metric", *(name for name, _ in sides))
        for key in METRIC_KEYS:
            values = [shown[key] for _, shown in sides]
            table.add_row(_METRIC_NAMES[key], *("—" if value is None else f"{value:.3f}" for value in values))
        out.print(table)
    facts = Table("", "", show_header=False)
    facts.add_row("threshold", "none" if report.threshold is None else f"{report.threshold:.2f}")
    if report.validation_lines:
        facts.add_row("chosen for", f"out-of-scope recall {target:.2f}" if target else "weighted accuracy")
    facts.add_row("train lines", str(report.train_lines))
    if report.validation_lines:
        facts.add_row("validation lines", str(report.validation_lines))
        facts.add_row("held-out-intent folds", str(report.holdout_folds) if report.holdout_folds else "none")
        facts.add_row("pseudo out-of-scope lines", str(report.pseudo_oos_lines))
        if report.pool_oos_recall is not None:
            facts.add_row("out-of-scope recall, pool", f"{report.pool_oos_recall:.3f}")
    if report.test_lines:
        facts.add_row("test lines", str(report.test_lines))
    if cv is not None:
        facts.add_row(f"{folds}-fold accuracy on train", f"{cv['accuracy']:.3f}")
        facts.add_row(f"{folds}-fold macro-F1 on train", f"{cv['macro_f1']:.3f}")
    out.print(facts)
    if show_frontier and report.frontier:
        curve = Table(
            "threshold",
            "in-scope accuracy",
            "out-of-scope recall, pool",
            "of validation's own",
            title="in scope: the validation lines; out of scope: validation's and held-out intents' lines",
        )
        for point in report.frontier:
            own = "—" if point.validation_oos_recall is None else f"{point.validation_oos_recall:.3f}"
            curve.add_row(f"{point.threshold:.2f}", f"{point.in_scope_accuracy:.3f}", f"{point.oos_recall:.3f}", own)
        out.print(curve)


_METRIC_NAMES = {
    "accuracy": "accuracy",
    "in_scope_accuracy": "in-scope accuracy",
    "macro_f1": "macro-F1",
    "oos_precision": "out-of-scope precision",
    "oos_recall": "out-of-scope recall",
}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
