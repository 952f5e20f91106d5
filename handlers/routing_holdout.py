"""Pseudo out-of-scope lines from held-out intents: evidence for the out-of-scope threshold beyond the few
out-of-scope lines a validation file holds.

The training intents are split into folds. For each fold a router is fitted on the other intents' training
lines only and routes the held-out intents' lines (training and validation): to that router they are messages
no workflow covers, out of scope by construction. Pooled with the validation file's real out-of-scope lines they
give the threshold hundreds of out-of-scope examples instead of a handful. Held-out intents are near misses
(a known domain, an unknown request), harder than most out-of-scope traffic, so a recall reached on them is a
cautious estimate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handlers.ports import Route
from handlers.router import DEFAULT_C, OUT_OF_SCOPE, EmbeddingRouter
from knowledge.embedder import Embedder, Vectors

log = logging.getLogger(__name__)

Example = tuple[str, str]
"""(text, label); label "oos" marks an out-of-scope line."""

DEFAULT_HOLDOUT_FOLDS = 5
_SEED = 0
# a fold's router needs two labels to be a classifier at all
_MIN_KNOWN_INTENTS = 2


@dataclass(frozen=True)
class HoldoutFold:
    held_out: frozenset[str]
    """The intents this fold's router never learns."""
    fit_on: tuple[Example, ...]
    """Training lines of every other intent."""
    pseudo_oos: tuple[Example, ...]
    """Training and validation lines of the held-out intents, with their own labels (out of scope to this fold)."""


def plan_holdout(
    train: Sequence[Example], validation: Sequence[Example] = (), *, folds: int = DEFAULT_HOLDOUT_FOLDS
) -> list[HoldoutFold]:
    """Split the training intents into `folds` groups (fewer if there are fewer intents), shuffled with a fixed
    seed; each group is held out once. Validation lines of intents the training file lacks, and "oos" lines,
    are never pseudo out of scope. Empty (logged) if a fold's router would know fewer than two intents."""
    if folds < 2:
        raise ValueError(f"holding out intents needs at least 2 folds, not {folds}")
    intents = sorted({label for _, label in train if label != OUT_OF_SCOPE})
    groups = min(folds, len(intents))
    if len(intents) - math.ceil(len(intents) / max(groups, 1)) < _MIN_KNOWN_INTENTS:
        log.warning("%d intents are too few to hold some out: no pseudo out-of-scope lines", len(intents))
        return []
    order = np.random.default_rng(_SEED).permutation(len(intents))
    plan = []
    for members in np.array_split(order, groups):
        held_out = frozenset(intents[i] for i in members)
        plan.append(
            HoldoutFold(
                held_out=held_out,
                fit_on=tuple(line for line in train if line[1] != OUT_OF_SCOPE and line[1] not in held_out),
                pseudo_oos=tuple(line for line in (*train, *validation) if line[1] in held_out),
            )
        )
    return plan


async def pseudo_oos_routes(embedder: Embedder, plan: Sequence[HoldoutFold], *, c: float = DEFAULT_C) -> list[Route]:
    """Each fold's held-out lines routed by a router fitted on that fold's other intents, in plan order."""
    routes: list[Route] = []
    for fold in plan:
        router = EmbeddingRouter(embedder, c=c)
        await router.fit(fold.fit_on)
        routes += await router.route_many([text for text, _ in fold.pseudo_oos])
    return routes


class RememberedVectors:
    """An embedder that answers from vectors embedded once, so that folds do not embed the same lines again."""

    def __init__(self, inner: Embedder, texts: Sequence[str], vectors: Vectors) -> None:
        self._inner = inner
        self._vectors = dict(zip(texts, vectors, strict=True))

    @classmethod
    async def of(cls, inner: Embedder, *groups: Sequence[str]) -> RememberedVectors:
        """Each group embedded in one call of its own, as a router fitted on it or routing it would."""
        texts = [text for group in groups for text in group]
        vectors = [await inner.embed(list(group)) for group in groups if group]
        return cls(inner, texts, np.concatenate(vectors) if vectors else np.zeros((0, inner.dimension), np.float32))

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    async def embed(self, texts: list[str]) -> Vectors:
        missing = list(dict.fromkeys(text for text in texts if text not in self._vectors))
        # texts not seen before (a test file) are embedded now and not kept: they are scored once
        fresh = dict(zip(missing, await self._inner.embed(missing), strict=True)) if missing else {}
        return np.stack([self._vectors[text] if text in self._vectors else fresh[text] for text in texts])
