"""Choosing the out-of-scope threshold for a target recall, and the frontier, on sets whose answer is known."""

from __future__ import annotations

import logging

import pytest

from handlers.router import Route
from handlers.routing_threshold import FrontierPoint, frontier, threshold_for_recall

# Five out-of-scope lines at known confidences, and six in-scope ones (the one at 0.25 routed wrongly).
OOS = [0.05, 0.12, 0.20, 0.30, 0.50]
IN_SCOPE = [(0.15, True), (0.25, False), (0.35, True), (0.60, True), (0.80, True), (0.90, True)]


def _routes() -> tuple[list[Route], list[str]]:
    routes = [Route("a", p, (("a", p), ("b", 1 - p))) for p in OOS]
    gold = ["oos"] * len(OOS)
    for p, right in IN_SCOPE:
        routes.append(Route("a", p, (("a", p), ("b", 1 - p))))
        gold.append("a" if right else "b")
    return routes, gold


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (0.2, 0.06),  # one line refused: just above 0.05
        (0.5, 0.21),  # 2.5 lines: three must be refused, the third sits at 0.20
        (0.6, 0.21),
        (0.8, 0.31),  # four refused: above 0.30
        (1.0, 0.51),
    ],
)
def test_the_lowest_threshold_reaching_the_target(target: float, expected: float) -> None:
    routes, gold = _routes()
    assert threshold_for_recall(routes, gold, target=target) == pytest.approx(expected)


def test_no_threshold_reaching_the_target_gives_the_best_recall_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    routes, gold = _routes()
    with caplog.at_level(logging.WARNING):
        assert threshold_for_recall(routes, gold, target=1.0, grid=[0.0, 0.1, 0.2, 0.3, 0.4]) == 0.4
    assert "no threshold reaches out-of-scope recall 1.00; the best is 0.800" in caplog.text


def test_without_out_of_scope_lines_everything_is_routed() -> None:
    routes, gold = _routes()
    assert threshold_for_recall(routes[5:], gold[5:], target=0.8) == 0.0


@pytest.mark.parametrize("target", [0.0, -0.1, 1.01])
def test_a_target_outside_zero_to_one_is_refused(target: float) -> None:
    routes, gold = _routes()
    with pytest.raises(ValueError, match="target out-of-scope recall"):
        threshold_for_recall(routes, gold, target=target)


def test_frontier_lists_each_distinct_trade_once_at_its_lowest_threshold() -> None:
    routes, gold = _routes()
    points = frontier(routes, gold, grid=[0.0, 0.1, 0.11, 0.2, 0.3, 0.31, 0.4, 0.55, 0.7, 0.95])
    assert points == [
        FrontierPoint(0.0, 5 / 6, 0.0),  # everything routed: the wrong line at 0.25 is the only miss
        FrontierPoint(0.1, 5 / 6, 0.2),
        FrontierPoint(0.2, 4 / 6, 0.4),  # 0.11 refuses nothing new; 0.2 refuses 0.12 and the in-scope 0.15
        FrontierPoint(0.3, 4 / 6, 0.6),  # the 0.25 line was wrong anyway
        FrontierPoint(0.31, 4 / 6, 0.8),
        FrontierPoint(0.4, 3 / 6, 0.8),
        FrontierPoint(0.55, 3 / 6, 1.0),
        FrontierPoint(0.7, 2 / 6, 1.0),
        FrontierPoint(0.95, 0.0, 1.0),
    ]
