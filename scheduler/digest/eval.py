"""The digest's evaluation lines: the latest stored figures (scenarios, each org's retrieval questions) beside
the week before's, drift when one dropped by more than the margin, and what changed between the two runs."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.eval_history import EvalHistory, EvalRun
from knowledge.sources import KnowledgeSources
from scheduler.digest.model import EvalFigure

HEADLINES = {"scenarios": ("pass_rate",), "retrieval": ("recall@1", "recall@5", "mrr@10")}
_NAMES = {"pass_rate": "pass rate", "recall@1": "recall@1", "recall@5": "recall@5", "mrr@10": "MRR@10"}


def _label(run: EvalRun, metric: str) -> str:
    scope = f"{run.kind} ({run.mode})" if run.kind == "scenarios" else f"retrieval ({run.org or 'public'})"
    return f"{scope} {_NAMES.get(metric, metric)}"


async def evaluation_figures(
    history: EvalHistory, sources: KnowledgeSources, *, now: datetime, margin: float
) -> list[EvalFigure]:
    latest = await history.latest_before(now)
    earlier = {(run.kind, run.mode, run.org): run for run in await history.latest_before(now - timedelta(days=7))}
    figures = []
    for run in latest:
        before = earlier.get((run.kind, run.mode, run.org))
        if before is not None and before.id == run.id:
            before = None  # no run since last week's: nothing to compare
        changes = tuple(run.fingerprint.changes_from(before.fingerprint)) if before else ()
        if before is not None and changes and "documents ingested or changed" in changes:
            changed = await sources.changed_since(before.ran_at)
            if changed:
                shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
                changes = tuple(
                    f"documents ingested or changed ({shown})" if c == "documents ingested or changed" else c
                    for c in changes
                )
        for metric in HEADLINES.get(run.kind, ()):
            value = run.figures.get(metric)
            if not isinstance(value, int | float):
                continue
            previous = before.figures.get(metric) if before else None
            prior = float(previous) if isinstance(previous, int | float) else None
            figures.append(
                EvalFigure(
                    name=_label(run, metric),
                    value=float(value),
                    previous=prior,
                    drift=prior is not None and prior - float(value) > margin,
                    changes=changes,
                    ran_at=run.ran_at,
                )
            )
    return figures
