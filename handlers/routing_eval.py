"""Routing quality on public intent sets: accuracy, macro-F1 and out-of-scope precision and recall."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

from handlers.errors import RoutingDataError
from handlers.router import DEFAULT_C, OUT_OF_SCOPE, EmbeddingRouter, Route
from handlers.routing_holdout import DEFAULT_HOLDOUT_FOLDS, Example, RememberedVectors, plan_holdout, pseudo_oos_routes
from handlers.routing_threshold import FrontierPoint, frontier, sweep, threshold_for_recall
from knowledge.embedder import Embedder

log = logging.getLogger(__name__)

METRIC_KEYS = ("accuracy", "in_scope_accuracy", "macro_f1", "oos_precision", "oos_recall")


def load_examples(path: Path) -> list[Example]:
    """Read JSONL lines of `{"text": …, "label": …}`; blank lines are skipped, anything else names file:line."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutingDataError(f"{path}: cannot read ({exc})") from None
    examples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise TypeError("each line must be a JSON object")
            text, label = item["text"], item["label"]
            if not isinstance(text, str) or not text.strip():
                raise TypeError("text must be non-empty text")
            if not isinstance(label, str) or not label.strip():
                raise TypeError("label must be non-empty text")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise RoutingDataError(f'{path}:{number}: expected {{"text", "label"}} ({exc})') from None
        examples.append((text, label))
    if not examples:
        raise RoutingDataError(f"{path} holds no examples")
    return examples


def predicted_label(route: Route) -> str:
    """The label a route stands for in the metrics: out of scope is "oos"."""
    return route.label if route.label is not None else OUT_OF_SCOPE


def metrics(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, float | None]:
    """Figures over parallel gold and predicted labels, where "oos" means out of scope.

    - `accuracy`: share of all lines predicted right;
    - `in_scope_accuracy`: the same over lines whose gold label is not "oos" (None if there are none);
    - `macro_f1`: unweighted mean F1 over the gold in-scope labels, plus "oos" when either side has it;
      a label predicted but never gold only costs recall of the gold labels it was confused with;
    - `oos_precision`, `oos_recall`: of lines predicted "oos", the share that are; of "oos" lines, the share
      predicted so. Both None when neither side has any "oos"; 0.0 when only one side has it.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    if not gold:
        raise ValueError("no lines to score")
    right = [g == p for g, p in zip(gold, predicted, strict=True)]
    in_scope = [ok for ok, g in zip(right, gold, strict=True) if g != OUT_OF_SCOPE]
    has_oos = OUT_OF_SCOPE in gold or OUT_OF_SCOPE in predicted
    labels = sorted({g for g in gold if g != OUT_OF_SCOPE}) + ([OUT_OF_SCOPE] if has_oos else [])
    figures: dict[str, float | None] = {
        "accuracy": sum(right) / len(right),
        "in_scope_accuracy": sum(in_scope) / len(in_scope) if in_scope else None,
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0.0)),
        "oos_precision": None,
        "oos_recall": None,
    }
    if has_oos:
        precision, recall, _, _ = precision_recall_fscore_support(
            gold, predicted, labels=[OUT_OF_SCOPE], average=None, zero_division=0.0
        )
        figures["oos_precision"] = float(precision[0])
        figures["oos_recall"] = float(recall[0])
    return figures


@dataclass(frozen=True)
class RoutingReport:
    figures: dict[str, float | None] | None
    """On the test lines, scored once; None without a test file."""
    threshold: float | None
    train_lines: int
    validation_lines: int
    test_lines: int
    validation_figures: dict[str, float | None] | None = None
    """On the validation lines at the chosen threshold; their out-of-scope recall rests on their own few lines."""
    frontier: tuple[FrontierPoint, ...] = ()
    """Threshold → in-scope accuracy on the validation lines, out-of-scope recall on the pool the threshold was
    chosen on (and on the validation lines alone)."""
    pseudo_oos_lines: int = 0
    """Lines of held-out intents in that pool, beside the validation file's out-of-scope lines."""
    holdout_folds: int = 0
    pool_oos_recall: float | None = None
    """Out-of-scope recall at the chosen threshold over the whole pool."""


async def evaluate_routing(
    embedder: Embedder,
    train: Sequence[Example],
    test: Sequence[Example] | None,
    *,
    validation: Sequence[Example] | None = None,
    oos_recall: float | None = None,
    holdout_folds: int = DEFAULT_HOLDOUT_FOLDS,
    c: float = DEFAULT_C,
) -> RoutingReport:
    """Fit on `train`, choose the out-of-scope threshold on `validation` (and held-out intents), score `test` once.

    The out-of-scope side of the choice is validation's "oos" lines pooled with the pseudo out-of-scope lines of
    `holdout_folds` held-out-intent folds (handlers.routing_holdout; 0 = validation's lines alone); the in-scope
    side is validation's other lines, routed by the router fitted on all of `train`. The threshold is the lowest
    that refuses `oos_recall` of the pool; with `oos_recall=None` it maximises the weighted accuracy of
    `choose_threshold` instead. Without a validation set there is no threshold: every line goes to its most
    likely label. No test line is seen before the threshold is fixed.
    """
    # embedded once, each file in one call as the fit and the validation routes would: the folds reuse them
    remembered = await RememberedVectors.of(
        embedder, [text for text, label in train if label != OUT_OF_SCOPE], [text for text, _ in validation or ()]
    )
    router = EmbeddingRouter(remembered, c=c)
    await router.fit(train)
    choice = (
        await _choose_threshold(
            router, validation, embedder=remembered, train=train, oos_recall=oos_recall, folds=holdout_folds, c=c
        )
        if validation
        else None
    )
    figures = None
    if test:
        routes = await router.route_many([text for text, _ in test])
        figures = metrics([label for _, label in test], [predicted_label(route) for route in routes])
    return RoutingReport(
        figures=figures,
        threshold=router.threshold,
        train_lines=len(train),
        validation_lines=len(validation or ()),
        test_lines=len(test or ()),
        validation_figures=choice.validation_figures if choice else None,
        frontier=choice.frontier if choice else (),
        pseudo_oos_lines=choice.pseudo_oos_lines if choice else 0,
        holdout_folds=choice.folds if choice else 0,
        pool_oos_recall=choice.pool_oos_recall if choice else None,
    )


@dataclass(frozen=True)
class _Choice:
    validation_figures: dict[str, float | None]
    frontier: tuple[FrontierPoint, ...]
    pseudo_oos_lines: int
    folds: int
    pool_oos_recall: float | None


async def _choose_threshold(
    router: EmbeddingRouter,
    validation: Sequence[Example],
    *,
    embedder: Embedder,
    train: Sequence[Example],
    oos_recall: float | None,
    folds: int,
    c: float,
) -> _Choice:
    """Sets `router.threshold` from validation's lines and the held-out intents' lines."""
    gold = [label for _, label in validation]
    routes = await router.route_many([text for text, _ in validation])
    plan = plan_holdout(train, validation, folds=folds) if folds else []
    started = time.perf_counter()
    pseudo = await pseudo_oos_routes(embedder, plan, c=c)
    elapsed = time.perf_counter() - started
    log.info("%d pseudo out-of-scope lines from %d folds in %.2f s", len(pseudo), len(plan), elapsed)
    pool_routes, pool_gold = [*routes, *pseudo], [*gold, *[OUT_OF_SCOPE] * len(pseudo)]
    if oos_recall is None:
        router.choose_threshold(pool_routes, pool_gold)
    else:
        router.threshold = threshold_for_recall(pool_routes, pool_gold, target=oos_recall)
    threshold = router.threshold or 0.0
    points = frontier(pool_routes, pool_gold)
    _, own_recall = sweep(routes, gold, [point.threshold for point in points])
    has_own = OUT_OF_SCOPE in gold
    return _Choice(
        validation_figures=metrics(
            gold, [OUT_OF_SCOPE if route.confidence < threshold else predicted_label(route) for route in routes]
        ),
        frontier=tuple(
            replace(point, validation_oos_recall=float(recall) if has_own else None)
            for point, recall in zip(points, own_recall, strict=True)
        ),
        pseudo_oos_lines=len(pseudo),
        folds=len(plan),
        pool_oos_recall=float(sweep(pool_routes, pool_gold, [threshold])[1][0]) if OUT_OF_SCOPE in pool_gold else None,
    )


async def cross_validate(
    embedder: Embedder, train: Sequence[Example], *, folds: int = 5, c: float = DEFAULT_C
) -> dict[str, float | None]:
    """Stratified k-fold figures on `train` alone (no threshold; "oos" lines skipped): every line is scored
    once by a router fitted on the other folds. The texts are embedded once; each fold refits the regression."""
    examples = [(text, label) for text, label in train if label != OUT_OF_SCOPE]
    texts, labels = [text for text, _ in examples], [label for _, label in examples]
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, not {folds}")
    remembered = await RememberedVectors.of(embedder, texts)
    predicted = [""] * len(examples)
    # shuffle with a fixed seed: files list each label's lines together
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    try:
        splits = list(splitter.split(np.zeros(len(labels)), labels))
    except ValueError as exc:
        raise RoutingDataError(f"cannot split the training lines into {folds} folds ({exc})") from None
    for fit_on, score_on in splits:
        router = EmbeddingRouter(remembered, c=c)
        await router.fit([examples[i] for i in fit_on])
        for index, route in zip(score_on, await router.route_many([texts[i] for i in score_on]), strict=True):
            predicted[index] = predicted_label(route)
    return metrics(labels, predicted)
