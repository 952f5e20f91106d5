"""Scenario files: errors name file:line:field; a step's first failed expectation; pass^k arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.scenario_checks import Mismatch, Observed, check_step
from handlers.scenario_load import ScenarioFileError, load_scenarios, parse_scenarios
from handlers.scenario_model import Expect, PolicyExpect
from handlers.scenario_report import summarise
from handlers.scenario_run import Failure, ScenarioResult
from knowledge.ingest import IngestSummary, discover

BAD = """\
scenarios:
  - id: fine
    turns:
      - customer: "hello"
  - id: broken
    turns:
      - customer: "I want a refund"
        expect:
          route: refund
          polcy: {outcome: act}
      - staff: approve
        amount_cents: -5
      - staff: deny
      - nothing: here
    end:
      backend: {orders: {A-10231: {refunds: "forty"}}}
"""


def test_every_mistake_is_named_with_its_file_line_and_field() -> None:
    with pytest.raises(ScenarioFileError) as raised:
        parse_scenarios(BAD, source="refunds.yaml")
    assert raised.value.problems == [
        "refunds.yaml:10: scenarios.1.turns.0.expect.polcy: Extra inputs are not permitted",
        "refunds.yaml:12: scenarios.1.turns.1.amount_cents: Input should be greater than 0",
        "refunds.yaml:13: scenarios.1.turns.2: Value error, deny needs a reason",
        "refunds.yaml:14: scenarios.1.turns.3: a step has `customer`, `staff_says` or `staff`",
        "refunds.yaml:16: scenarios.1.end.backend.orders.A-10231.refunds: Input should be a valid list",
    ]


def test_a_single_scenario_file_a_yaml_error_and_a_duplicate_id(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text('id: same\nturns:\n  - customer: "hi"\n', encoding="utf-8")
    (tmp_path / "two.yaml").write_text('id: same\nturns:\n  - customer: "hello"\n', encoding="utf-8")
    (tmp_path / "three.yml").write_text("id: x\nturns: [\n", encoding="utf-8")
    with pytest.raises(ScenarioFileError) as raised:
        load_scenarios([tmp_path])
    problems = raised.value.problems
    assert problems[0].startswith(f"{tmp_path / 'three.yml'}:3: not valid YAML")
    assert problems[1] == f"{tmp_path / 'two.yaml'}:1: id: same is also the id of {tmp_path / 'one.yaml'}:1"
    with pytest.raises(ScenarioFileError, match=r"^s.yaml:1: turns: Field required$"):
        parse_scenarios("id: no-turns\n", source="s.yaml")


def test_the_first_expectation_that_does_not_hold_is_reported() -> None:
    expect = Expect(route="refund", policy=PolicyExpect(outcome="needs_approval", rule="max_amount"), says=["$40"])
    seen = Observed(route="refund", policy_outcome="needs_approval", policy_rule="autonomy_approve", reply="no")
    assert check_step(expect, seen) == Mismatch("policy.rule", "max_amount", "autonomy_approve")
    seen.policy_rule = "max_amount"
    assert str(check_step(expect, seen)) == "says: expected '$40', got 'no'"
    seen.reply = "A refund of $40.00"
    assert check_step(expect, seen) is None


def _result(passed: bool, name: str = "s", workflows: tuple[str, ...] = ("refund",)) -> ScenarioResult:
    failure = None if passed else Failure("turn 1", Mismatch("route", "refund", "answer"), "dec_1")
    return ScenarioResult(name, "f.yaml:1", workflows, failure, ("dec_1",), 0.01)


def test_pass_hat_k_counts_scenarios_that_passed_every_attempt() -> None:
    attempts = [
        [_result(True, "a"), _result(True, "a"), _result(True, "a")],
        [_result(True, "b", ("cancel_order",)), _result(False, "b", ("cancel_order",)), _result(True, "b")],
        [_result(False, "c", ("answer",)), _result(False, "c"), _result(False, "c")],
        [_result(True, "d", ("answer",)), _result(True, "d"), _result(True, "d")],
    ]
    summary = summarise("offline", attempts, seconds=6.0)
    assert summary.runs == 3 and summary.scenarios == 4
    assert summary.pass_rate == pytest.approx(8 / 12)
    assert summary.pass_hat_k == pytest.approx(2 / 4)
    assert summary.scenarios_per_second == pytest.approx(2.0)
    assert [r.id for r in summary.failures] == ["b", "c"]
    assert summary.failing_workflows == {"cancel_order": ["b"], "answer": ["c"]}
    assert summary.passing_workflows == ("refund",)
    assert summary.as_dict()["pass^3"] == 0.5


def test_ingest_never_takes_the_owners_retrieval_questions_for_a_document(tmp_path: Path) -> None:
    (tmp_path / "guides").mkdir()
    for name in ("retrieval-questions.jsonl", "returns.md", "guides/retrieval-questions.jsonl"):
        (tmp_path / name).write_text("x")
    found = [source.doc_key for source in discover([tmp_path], IngestSummary())]
    # only the questions file at the root of the ingested folder is the owner's; one deeper is just a file
    assert found == ["returns", "guides/retrieval-questions"]
