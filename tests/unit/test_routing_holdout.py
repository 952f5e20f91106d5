"""Pseudo out-of-scope lines from held-out intents, and the threshold chosen with them, on a made-up vector space."""

from __future__ import annotations

import logging
import zlib

import numpy as np
import pytest

from handlers.routing_eval import evaluate_routing
from handlers.routing_holdout import Example, RememberedVectors, plan_holdout, pseudo_oos_routes
from knowledge.embedder import Vectors

INTENTS = ("balance", "card_lost", "refund", "statement", "transfer", "pin_change")
DIMENSION = 16


class ClusterEmbedder:
    """Texts "intent #n" land near their intent's own axis; anything else at the origin. Counts what it embeds."""

    def __init__(self) -> None:
        self.embedded: list[str] = []

    @property
    def name(self) -> str:
        return "clusters"

    @property
    def dimension(self) -> int:
        return DIMENSION

    async def embed(self, texts: list[str]) -> Vectors:
        self.embedded += texts
        return np.stack([_vector(text) for text in texts])


def _vector(text: str) -> Vectors:
    intent = text.split(" #", maxsplit=1)[0]
    if intent not in INTENTS:
        # out of scope: the zero vector, so a router gives every label about the same probability
        return np.zeros(DIMENSION, dtype=np.float32)
    noise = np.random.default_rng(zlib.crc32(text.encode())).normal(0, 0.25, DIMENSION)
    noise[INTENTS.index(intent)] += 1.0
    vector: Vectors = (noise / np.linalg.norm(noise)).astype(np.float32)
    return vector


def _lines(intents: tuple[str, ...], numbers: range) -> list[Example]:
    return [(f"{intent} #{n}", intent) for intent in intents for n in numbers]


TRAIN = [*_lines(INTENTS, range(8)), ("weather tomorrow #0", "oos")]
VALIDATION = [*_lines(INTENTS, range(8, 12)), ("unknown_intent #1", "unknown_intent"), ("poem please #1", "oos")]


def test_every_intent_is_held_out_once_and_never_trained_on_in_its_fold() -> None:
    plan = plan_holdout(TRAIN, VALIDATION, folds=3)
    assert len(plan) == 3
    held = [intent for fold in plan for intent in fold.held_out]
    assert sorted(held) == sorted(INTENTS)
    for fold in plan:
        trained = {label for _, label in fold.fit_on}
        assert not trained & fold.held_out
        assert trained == set(INTENTS) - fold.held_out
        # the pseudo out-of-scope lines are every line of the held-out intents, training and validation alike
        assert set(fold.pseudo_oos) == {line for line in (*TRAIN, *VALIDATION) if line[1] in fold.held_out}
        assert {label for _, label in fold.pseudo_oos} == fold.held_out


def test_real_out_of_scope_lines_and_intents_the_training_file_lacks_are_never_pseudo_out_of_scope() -> None:
    for fold in plan_holdout(TRAIN, VALIDATION, folds=2):
        labels = {label for _, label in (*fold.pseudo_oos, *fold.fit_on)}
        assert "oos" not in labels and "unknown_intent" not in labels


def test_the_plan_is_the_same_every_time_and_folds_are_capped_by_the_intents() -> None:
    assert plan_holdout(TRAIN, VALIDATION, folds=3) == plan_holdout(TRAIN, VALIDATION, folds=3)
    plan = plan_holdout(TRAIN, folds=20)
    assert len(plan) == len(INTENTS) and all(len(fold.held_out) == 1 for fold in plan)


def test_too_few_intents_to_hold_any_out_gives_no_folds_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    two = _lines(INTENTS[:2], range(3))
    with caplog.at_level(logging.WARNING):
        assert plan_holdout(two, folds=5) == []
    assert "2 intents are too few" in caplog.text
    assert len(plan_holdout(_lines(INTENTS[:3], range(3)), folds=5)) == 3  # each fold still knows two


def test_one_fold_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 folds"):
        plan_holdout(TRAIN, folds=1)


async def test_a_held_out_line_is_routed_by_a_router_that_never_learned_its_intent() -> None:
    plan = plan_holdout(TRAIN, VALIDATION, folds=3)
    routes = await pseudo_oos_routes(ClusterEmbedder(), plan)
    lines = [line for fold in plan for line in fold.pseudo_oos]
    assert len(routes) == len(lines) == 12 * len(INTENTS)
    for (_, intent), route in zip(lines, routes, strict=True):
        assert len(route.ranked) == 3
        assert intent not in {label for label, _ in route.ranked}


async def test_remembered_vectors_embed_each_known_text_once_and_unknown_ones_when_asked() -> None:
    inner = ClusterEmbedder()
    remembered = await RememberedVectors.of(inner, ["balance #1", "refund #1"], ["balance #1"], [])
    assert inner.embedded == ["balance #1", "refund #1", "balance #1"]  # one call per group, as given
    vectors = await remembered.embed(["refund #1", "card_lost #1", "card_lost #1"])
    assert inner.embedded[3:] == ["card_lost #1"]
    assert np.allclose(vectors[0], _vector("refund #1")) and np.allclose(vectors[2], _vector("card_lost #1"))


async def test_the_threshold_is_chosen_on_the_pool_and_reported_on_validation_alone() -> None:
    with_pool = await evaluate_routing(ClusterEmbedder(), TRAIN, None, validation=VALIDATION, oos_recall=0.8)
    alone = await evaluate_routing(
        ClusterEmbedder(), TRAIN, None, validation=VALIDATION, oos_recall=0.8, holdout_folds=0
    )
    assert with_pool.pseudo_oos_lines == 12 * len(INTENTS) and with_pool.holdout_folds == 5
    assert alone.pseudo_oos_lines == 0 and alone.holdout_folds == 0 and alone.pool_oos_recall == 1.0
    # held-out intents are confident near misses: refusing 80 % of them takes a higher threshold than the one
    # unconfident real out-of-scope line does
    assert with_pool.threshold is not None and alone.threshold is not None
    assert with_pool.threshold > alone.threshold
    assert with_pool.pool_oos_recall is not None and with_pool.pool_oos_recall >= 0.8
    assert with_pool.validation_figures is not None and with_pool.validation_figures["oos_recall"] == 1.0
    chosen = next(point for point in with_pool.frontier if point.threshold == with_pool.threshold)
    assert chosen.oos_recall == with_pool.pool_oos_recall and chosen.validation_oos_recall == 1.0
    assert chosen.in_scope_accuracy == with_pool.validation_figures["in_scope_accuracy"]


async def test_the_test_file_plays_no_part_in_the_choice() -> None:
    easy = [("balance #50", "balance"), ("poem please #2", "oos")]
    hard = [("refund #60", "balance"), ("transfer #61", "oos")]
    chosen = [
        (await evaluate_routing(ClusterEmbedder(), TRAIN, test, validation=VALIDATION, oos_recall=0.8)).threshold
        for test in (easy, hard, None)
    ]
    assert chosen[0] == chosen[1] == chosen[2]


async def test_without_validation_there_is_no_threshold_and_no_pool() -> None:
    report = await evaluate_routing(ClusterEmbedder(), TRAIN, VALIDATION[:4], oos_recall=0.8)
    assert report.threshold is None and report.pseudo_oos_lines == 0 and report.frontier == ()
