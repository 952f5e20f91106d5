"""The offline router: an embedding classifier that sends a message to a workflow, or to nobody.

Messages are embedded with the injected `Embedder` and classified by a multinomial logistic regression.
When the top probability falls below the out-of-scope threshold the message belongs to no workflow
(`Route.label is None`) and the core hands it to a human or says it cannot help.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from handlers.errors import RouterNotFitted, RoutingDataError
from handlers.ports import Route
from handlers.routing_threshold import OUT_OF_SCOPE, THRESHOLD_GRID, sweep
from knowledge.embedder import Embedder, Vectors, normalise

__all__ = [
    "DEFAULT_C",
    "DEFAULT_OOS_SHARE",
    "NO_ROUTE",
    "OUT_OF_SCOPE",
    "THRESHOLD_GRID",
    "EmbeddingRouter",
    "Route",
    "choose_threshold",
]

log = logging.getLogger(__name__)

# C was chosen on the Banking77 and CLINC150 development sets: cross-validated accuracy on unit-length
# MiniLM vectors is flat for C in 30–100 and lower below 10 (docs/routing-eval.md). Balanced class weights
# change nothing on those balanced sets; they are the default because workflow example lists are not.
DEFAULT_C = 30.0
TOP_K = 3
# The objective of `choose_threshold` assumes this share of traffic is out of scope (about the 18 % of
# CLINC150's full test set); 0.5 would be the plain mean of in-scope accuracy and out-of-scope recall.
DEFAULT_OOS_SHARE = 0.2
_MAX_ITER = 1000
_RANDOM_STATE = 0


# `Route` is the core's port type (handlers.ports): label None is out of scope, `confidence` the top
# probability even then, `ranked` the top three labels, so another threshold can be applied afterwards.
NO_ROUTE = Route(None, 0.0, ())


class EmbeddingRouter:
    """Logistic regression over sentence embeddings, with an optional out-of-scope threshold.

    Fitting is deterministic: the same examples and embedder give the same model.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        c: float = DEFAULT_C,
        threshold: float | None = None,
        class_weight: Literal["balanced"] | None = "balanced",
    ) -> None:
        if c <= 0:
            raise ValueError(f"c must be positive, not {c}")
        self._embedder = embedder
        self._c = c
        self._class_weight = class_weight
        self._threshold = _checked_threshold(threshold)
        self._model: LogisticRegression | None = None
        self._labels: tuple[str, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels the router can choose, sorted; empty before `fit`."""
        return self._labels

    @property
    def is_fitted(self) -> bool:
        return self._model is not None

    @property
    def threshold(self) -> float | None:
        """Top probability below which a message is out of scope; None routes everything."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        self._threshold = _checked_threshold(value)

    async def fit(self, examples: Sequence[tuple[str, str]]) -> None:
        """Learn from (text, label) pairs. Lines labelled "oos" are skipped: out of scope is not a class."""
        texts: list[str] = []
        labels: list[str] = []
        for number, (text, label) in enumerate(examples, start=1):
            if label == OUT_OF_SCOPE:
                continue
            if not text.strip() or not label.strip():
                raise RoutingDataError(f"example {number}: text and label must be non-empty")
            texts.append(text)
            labels.append(label)
        if len(set(labels)) < 2:
            raise RoutingDataError(f"the router needs examples of at least two labels, got {sorted(set(labels))}")
        started = time.perf_counter()
        vectors = _features(await self._embedder.embed(texts))
        embedded = time.perf_counter()
        model = await asyncio.to_thread(self._train, vectors, labels)
        self._model = model
        self._labels = tuple(str(label) for label in model.classes_)
        log.info(
            "router fitted on %d examples of %d labels (%d out-of-scope lines skipped): embedding %.2f s, fit %.2f s",
            len(texts),
            len(self._labels),
            len(examples) - len(texts),
            embedded - started,
            time.perf_counter() - embedded,
        )

    def _train(self, vectors: npt.NDArray[np.float64], labels: list[str]) -> LogisticRegression:
        # lbfgs fits one multinomial (softmax) model over all labels; random_state only pins solvers that shuffle.
        model = LogisticRegression(
            C=self._c, class_weight=self._class_weight, max_iter=_MAX_ITER, random_state=_RANDOM_STATE
        )
        # The matrices are small: multi-threaded BLAS only adds contention (0.5 s becomes 2–5 s on a busy
        # 2-core machine for 1,500 examples). threadpoolctl is a dependency of scikit-learn.
        with threadpool_limits(limits=1, user_api="blas"):
            model.fit(vectors, np.asarray(labels))
        return model

    async def route(self, text: str) -> Route:
        return (await self.route_many([text]))[0]

    async def route_many(self, texts: Sequence[str]) -> list[Route]:
        """One route per text, in order; empty texts get `Route(None, 0.0, ())` without being embedded."""
        model, labels = self._model, self._labels  # one consistent pair even if a refit lands meanwhile
        if model is None:
            raise RouterNotFitted("fit the router on labelled examples before routing")
        routes = [NO_ROUTE] * len(texts)
        filled = [index for index, text in enumerate(texts) if text.strip()]
        if not filled:
            return routes
        vectors = _features(await self._embedder.embed([texts[index] for index in filled]))
        probabilities: npt.NDArray[np.float64] = model.predict_proba(vectors)
        threshold = self._threshold or 0.0
        for index, row in zip(filled, probabilities, strict=True):
            order = np.argsort(-row, kind="stable")[:TOP_K]
            ranked = tuple((labels[i], float(row[i])) for i in order)
            top_label, confidence = ranked[0]
            routes[index] = Route(top_label if confidence >= threshold else None, confidence, ranked)
        return routes

    def choose_threshold(
        self, routes: Sequence[Route], gold_labels: Sequence[str], *, oos_share: float = DEFAULT_OOS_SHARE
    ) -> float:
        """Pick the threshold on validation routes (see `choose_threshold`), keep it, and return it."""
        self.threshold = choose_threshold(routes, gold_labels, oos_share=oos_share)
        return self.threshold


def choose_threshold(
    routes: Sequence[Route],
    gold_labels: Sequence[str],
    *,
    oos_share: float = DEFAULT_OOS_SHARE,
    grid: Sequence[float] = THRESHOLD_GRID,
) -> float:
    """The out-of-scope threshold, from the ascending `grid`, that maximises weighted accuracy on validation.

    The objective is `(1 - oos_share) * in-scope accuracy + oos_share * out-of-scope recall`: the accuracy
    over all lines if out-of-scope messages made up `oos_share` of traffic, whatever their share in the
    validation set. In-scope accuracy counts a line right only if it is routed to its gold label (a refused
    in-scope line is wrong); out-of-scope recall is the share of "oos" lines refused. The best score is
    usually reached on a run of neighbouring grid points (no validation line falls between them): the
    middle of the first such run is chosen, as far as the grid allows from the lines on either side, rather
    than its edge, which would hug the most confident out-of-scope line. If refusing nothing (threshold 0)
    is among the best, 0 is kept. Without "oos" lines in the validation set there is nothing to trade
    against, so the threshold is 0 as well.
    """
    if len(routes) != len(gold_labels):
        raise ValueError(f"{len(routes)} routes but {len(gold_labels)} gold labels")
    if not 0 < oos_share < 1:
        raise ValueError(f"oos_share must lie strictly between 0 and 1, not {oos_share}")
    if OUT_OF_SCOPE not in gold_labels:
        return 0.0
    thresholds = np.asarray(grid, dtype=np.float64)
    in_scope_accuracy, oos_recall = sweep(routes, gold_labels, grid)
    score = (1 - oos_share) * in_scope_accuracy + oos_share * oos_recall
    best = _middle_of_first_run(np.flatnonzero(score >= score.max() - 1e-12))
    chosen = float(thresholds[best])
    log.info(
        "out-of-scope threshold %.2f: in-scope accuracy %.3f, out-of-scope recall %.3f on %d validation lines",
        chosen,
        in_scope_accuracy[best],
        oos_recall[best],
        len(routes),
    )
    return chosen


def _middle_of_first_run(indices: npt.NDArray[np.intp]) -> int:
    """`indices` ascending and non-empty; a run from the lowest grid point (refusing nothing) keeps it."""
    end = 1
    while end < len(indices) and indices[end] == indices[end - 1] + 1:
        end += 1
    return 0 if indices[0] == 0 else int(indices[(end - 1) // 2])


def _features(vectors: Vectors) -> npt.NDArray[np.float64]:
    # unit length whatever the embedder returns, so one C suits every embedder; float64 for the solver
    return normalise(vectors).astype(np.float64)


def _checked_threshold(value: float | None) -> float | None:
    if value is not None and not 0 <= value < 1:
        raise ValueError(f"the out-of-scope threshold is a probability in [0, 1), not {value}")
    return value
