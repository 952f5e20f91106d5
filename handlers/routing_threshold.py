"""Out-of-scope thresholds of the offline router, read off validation routes.

A threshold trades in-scope accuracy (a refused in-scope message counts as wrong) against out-of-scope recall
(the share of out-of-scope messages refused). A support bot should rather say "not sure, here is a person"
than start a wrong workflow, so the threshold is chosen for a target out-of-scope recall, and the whole
frontier is there to read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from handlers.ports import Route

log = logging.getLogger(__name__)

OUT_OF_SCOPE = "oos"
"""The label of out-of-scope lines in training and evaluation data; never a class of the router."""

# Out-of-scope thresholds are top-class probabilities; above 0.95 nearly every message would be refused.
THRESHOLD_GRID: tuple[float, ...] = tuple(round(step / 100, 2) for step in range(96))


@dataclass(frozen=True)
class FrontierPoint:
    threshold: float
    in_scope_accuracy: float
    oos_recall: float
    validation_oos_recall: float | None = None
    """When `oos_recall` is over a larger pool (held-out intents too): the recall of the validation file's own
    out-of-scope lines alone."""


def sweep(
    routes: Sequence[Route], gold_labels: Sequence[str], grid: Sequence[float]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """In-scope accuracy and out-of-scope recall at each threshold of `grid` (1.0 where a side has no lines)."""
    if len(routes) != len(gold_labels):
        raise ValueError(f"{len(routes)} routes but {len(gold_labels)} gold labels")
    is_oos = np.array([gold == OUT_OF_SCOPE for gold in gold_labels], dtype=bool)
    confidence = np.array([route.confidence for route in routes], dtype=np.float64)
    has_label = np.array([bool(route.ranked) for route in routes], dtype=bool)
    top_right = np.array(
        [bool(route.ranked) and route.ranked[0][0] == gold for route, gold in zip(routes, gold_labels, strict=True)],
        dtype=bool,
    )
    thresholds = np.asarray(grid, dtype=np.float64)
    # rows: thresholds, columns: lines; True where the line is routed to its top label
    kept = (confidence[None, :] >= thresholds[:, None]) & has_label[None, :]
    in_scope = ~is_oos
    ones = np.ones(len(thresholds))
    in_scope_accuracy = (kept & top_right[None, :])[:, in_scope].mean(axis=1) if in_scope.any() else ones
    oos_recall = (~kept)[:, is_oos].mean(axis=1) if is_oos.any() else ones
    return in_scope_accuracy, oos_recall


def frontier(
    routes: Sequence[Route], gold_labels: Sequence[str], *, grid: Sequence[float] = THRESHOLD_GRID
) -> list[FrontierPoint]:
    """Threshold → (in-scope accuracy, out-of-scope recall), keeping only the lowest threshold of each distinct
    pair: the grid points in between refuse the same validation lines."""
    accuracy, recall = sweep(routes, gold_labels, grid)
    points: list[FrontierPoint] = []
    for threshold, acc, rec in zip(grid, accuracy, recall, strict=True):
        if not points or (points[-1].in_scope_accuracy, points[-1].oos_recall) != (float(acc), float(rec)):
            points.append(FrontierPoint(float(threshold), float(acc), float(rec)))
    return points


def threshold_for_recall(
    routes: Sequence[Route], gold_labels: Sequence[str], *, target: float, grid: Sequence[float] = THRESHOLD_GRID
) -> float:
    """The lowest threshold of the ascending `grid` whose out-of-scope recall on these validation routes reaches
    `target`: the most in-scope accuracy that recall allows. If no threshold reaches it, the one with the best
    recall (logged). Without out-of-scope lines there is nothing to measure: 0, route everything (logged)."""
    if not 0 < target <= 1:
        raise ValueError(f"the target out-of-scope recall must lie in (0, 1], not {target}")
    if OUT_OF_SCOPE not in gold_labels:
        log.warning("no out-of-scope validation lines: the threshold stays 0")
        return 0.0
    accuracy, recall = sweep(routes, gold_labels, grid)
    reaching = np.flatnonzero(recall >= target - 1e-12)
    if reaching.size:
        best = int(reaching[0])
    else:
        best = int(np.flatnonzero(recall >= recall.max() - 1e-12)[0])
        log.warning("no threshold reaches out-of-scope recall %.2f; the best is %.3f", target, recall[best])
    log.info(
        "out-of-scope threshold %.2f for recall %.2f: in-scope accuracy %.3f, out-of-scope recall %.3f on %d lines",
        grid[best],
        target,
        accuracy[best],
        recall[best],
        len(routes),
    )
    return float(grid[best])
