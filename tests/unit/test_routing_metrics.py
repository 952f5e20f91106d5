"""Routing metrics, the example-file reader and the threshold choice, without any model."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.errors import HandlersError, RoutingDataError
from handlers.router import Route, choose_threshold
from handlers.routing_eval import load_examples, metrics, predicted_label


def test_in_scope_only() -> None:
    # a: P 1, R 1/2, F1 2/3; b: P 2/3, R 1, F1 4/5
    assert metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"]) == {
        "accuracy": 0.75,
        "in_scope_accuracy": 0.75,
        "macro_f1": pytest.approx((2 / 3 + 4 / 5) / 2),
        "oos_precision": None,
        "oos_recall": None,
    }


def test_with_out_of_scope_lines() -> None:
    gold = ["a", "a", "b", "oos", "oos"]
    predicted = ["a", "oos", "b", "oos", "b"]
    # a: F1 2/3 (P 1, R 1/2); b: F1 2/3 (P 1/2, R 1); oos: F1 1/2 (P 1/2, R 1/2)
    assert metrics(gold, predicted) == {
        "accuracy": 0.6,
        "in_scope_accuracy": pytest.approx(2 / 3),
        "macro_f1": pytest.approx(11 / 18),
        "oos_precision": 0.5,
        "oos_recall": 0.5,
    }


def test_out_of_scope_predicted_but_never_gold() -> None:
    assert metrics(["a", "b"], ["a", "oos"]) == {
        "accuracy": 0.5,
        "in_scope_accuracy": 0.5,
        # a: 1, b: 0 (never predicted), oos: 0 (never right)
        "macro_f1": pytest.approx(1 / 3),
        "oos_precision": 0.0,
        "oos_recall": 0.0,
    }


def test_out_of_scope_gold_but_never_predicted() -> None:
    figures = metrics(["a", "oos"], ["a", "a"])
    assert figures["oos_precision"] == 0.0
    assert figures["oos_recall"] == 0.0
    assert figures["in_scope_accuracy"] == 1.0
    assert figures["accuracy"] == 0.5


def test_all_out_of_scope_has_no_in_scope_accuracy() -> None:
    figures = metrics(["oos", "oos"], ["oos", "a"])
    assert figures["in_scope_accuracy"] is None
    assert figures["oos_precision"] == 1.0
    assert figures["oos_recall"] == 0.5
    # only "oos" is scored: F1 of P 1, R 1/2
    assert figures["macro_f1"] == pytest.approx(2 / 3)


def test_a_label_never_gold_only_costs_recall() -> None:
    assert metrics(["a", "a"], ["a", "c"])["macro_f1"] == pytest.approx(2 / 3)


def test_perfect_predictions() -> None:
    assert metrics(["a", "b", "oos"], ["a", "b", "oos"]) == {
        "accuracy": 1.0,
        "in_scope_accuracy": 1.0,
        "macro_f1": 1.0,
        "oos_precision": 1.0,
        "oos_recall": 1.0,
    }


def test_mismatched_or_empty_input_is_refused() -> None:
    with pytest.raises(ValueError, match="2 gold labels but 1 predictions"):
        metrics(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no lines"):
        metrics([], [])


def test_out_of_scope_route_counts_as_oos() -> None:
    assert predicted_label(Route(None, 0.2, (("a", 0.2),))) == "oos"
    assert predicted_label(Route("a", 0.9, (("a", 0.9),))) == "a"


def test_load_examples_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "where is my order", "label": "order_status"}\n\n{"text": "hi", "label": "oos"}\n')
    assert load_examples(path) == [("where is my order", "order_status"), ("hi", "oos")]


@pytest.mark.parametrize(
    ("second_line", "reason"),
    [
        ("{not json", "Expecting property name"),
        ('{"text": "refund please"}', "'label'"),
        ('{"text": "", "label": "refund"}', "text must be non-empty"),
        ('{"text": 7, "label": "refund"}', "text must be non-empty"),
        ('{"text": "refund please", "label": null}', "label must be non-empty"),
        ('["refund please", "refund"]', "JSON object"),
    ],
)
def test_load_errors_name_file_and_line(tmp_path: Path, second_line: str, reason: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "where is my order", "label": "order_status"}\n' + second_line + "\n")
    with pytest.raises(RoutingDataError) as caught:
        load_examples(path)
    assert str(caught.value).startswith(f"{path}:2: expected")
    assert reason in str(caught.value)
    # one exception tree, and still a ValueError for the command's error handling
    assert isinstance(caught.value, HandlersError) and isinstance(caught.value, ValueError)


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    with pytest.raises(RoutingDataError, match="holds no examples"):
        load_examples(path)


def _route(top: str, confidence: float) -> Route:
    return Route(top, confidence, ((top, confidence),))


def test_threshold_without_out_of_scope_lines_is_zero() -> None:
    assert choose_threshold([_route("a", 0.3), _route("b", 0.9)], ["a", "b"]) == 0.0


def test_threshold_separates_out_of_scope_from_in_scope() -> None:
    routes = [_route("a", 0.9), _route("b", 0.8), _route("a", 0.7), _route("a", 0.25), _route("b", 0.2)]
    gold = ["a", "b", "a", "oos", "oos"]
    # every grid point in (0.25, 0.70] scores 1.0; the middle of that run wins, away from both sides
    assert choose_threshold(routes, gold) == 0.48


def test_threshold_weighs_in_scope_accuracy_against_out_of_scope_recall() -> None:
    # one confident out-of-scope line: refusing it means refusing three of the four in-scope lines too
    routes = [_route("a", 0.9), _route("a", 0.6), _route("b", 0.6), _route("b", 0.6), _route("a", 0.8)]
    gold = ["a", "a", "b", "b", "oos"]
    # with 20 % out of scope: 0.8 * 1 + 0.2 * 0 at 0.0 beats 0.8 * 1/4 + 0.2 * 1 above 0.8
    assert choose_threshold(routes, gold) == 0.0
    # with half the traffic out of scope (the plain mean of the two): 0.5 loses to 0.5 * 1/4 + 0.5 * 1
    assert choose_threshold(routes, gold, oos_share=0.5) == pytest.approx(0.85)


def test_wrong_routes_above_the_threshold_do_not_count_as_right() -> None:
    routes = [_route("b", 0.9), _route("a", 0.8), _route("a", 0.3)]
    gold = ["a", "a", "oos"]
    # best on (0.30, 0.80]
    assert choose_threshold(routes, gold) == pytest.approx(0.55)


def test_threshold_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="2 routes but 1 gold"):
        choose_threshold([_route("a", 0.5), _route("a", 0.5)], ["a"])
    with pytest.raises(ValueError, match="oos_share"):
        choose_threshold([_route("a", 0.5)], ["oos"], oos_share=1.0)
