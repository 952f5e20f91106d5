"""Routing quality on public intent sets: accuracy, macro-F1 and out-of-scope precision and recall."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

from handlers.errors import RoutingDataError
from handlers.router import DEFAULT_C, OUT_OF_SCOPE, EmbeddingRouter, Route
from handlers.routing_threshold import FrontierPoint, frontier, threshold_for_recall
from knowledge.embedder import Embedder, Vectors

Example = tuple[str, str]
"""(text, label); label "oos" marks an out-of-scope line."""

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
    """On the validation lines at the threshold chosen on them: optimistic for out-of-scope recall."""
    frontier: tuple[FrontierPoint, ...] = ()
    """Threshold → in-scope accuracy and out-of-scope recall on the validation lines."""


async def evaluate_routing(
    embedder: Embedder,
    train: Sequence[Example],
    test: Sequence[Example] | None,
    *,
    validation: Sequence[Example] | None = None,
    oos_recall: float | None = None,
    c: float = DEFAULT_C,
) -> RoutingReport:
    """Fit on `train`, choose the out-of-scope threshold on `validation` only, then score `test` once.

    The threshold is the lowest that refuses `oos_recall` of validation's out-of-scope lines; with
    `oos_recall=None` it maximises the weighted accuracy of `choose_threshold` instead. Without a validation
    set there is no threshold: every line goes to its most likely label.
    """
    router = EmbeddingRouter(embedder, c=c)
    await router.fit(train)
    validation_figures: dict[str, float | None] | None = None
    points: tuple[FrontierPoint, ...] = ()
    if validation:
        gold = [label for _, label in validation]
        routes = await router.route_many([text for text, _ in validation])
        if oos_recall is None:
            router.choose_threshold(routes, gold)
        else:
            router.threshold = threshold_for_recall(routes, gold, target=oos_recall)
        points = tuple(frontier(routes, gold))
        threshold = router.threshold or 0.0
        validation_figures = metrics(
            gold, [OUT_OF_SCOPE if route.confidence < threshold else predicted_label(route) for route in routes]
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
        validation_figures=validation_figures,
        frontier=points,
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
    remembered = _Remembered(embedder, texts, await embedder.embed(texts))
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


class _Remembered:
    """The vectors of texts already embedded, so that folds do not embed them again."""

    def __init__(self, inner: Embedder, texts: Sequence[str], vectors: Vectors) -> None:
        self._inner = inner
        self._vectors = dict(zip(texts, vectors, strict=True))

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    async def embed(self, texts: list[str]) -> Vectors:
        return np.stack([self._vectors[text] for text in texts])
