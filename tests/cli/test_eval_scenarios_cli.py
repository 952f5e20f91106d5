"""`supportbot eval scenarios` as a user runs it: a real process, a throw-away database on the embedded server,
a failing scenario reported with its first failed expectation and the explain command for its decision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run

pytestmark = pytest.mark.cli

SCENARIOS = """\
scenarios:
  - id: warranty-question
    kind: knowledge
    turns:
      - customer: "How long is the warranty on the Hub Mini?"
        expect: {outcome: answered, cites: [hub-mini-warranty], says: ["3 years"]}
  - id: refund-acts-at-once
    turns:
      - customer: "I want a refund of $40 for order A-10231, the case is cracked"
        expect: {route: refund, policy: {outcome: act}}
"""


def test_a_failing_scenario_is_reported_with_its_decision_and_the_exit_code_says_so(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "hub-mini-warranty.md").write_text("# Hub Mini warranty\n\nThe Hub Mini has a warranty of 3 years.\n")
    (tmp_path / "scenarios.yaml").write_text(SCENARIOS)
    result = run(tmp_path / "home", "eval", "scenarios", str(tmp_path / "scenarios.yaml"), "--docs", str(docs))
    assert result.returncode == 1, result.stderr
    out = " ".join(result.stdout.split())
    assert "offline │ 2 │ 0.500 │ 0.500" in out
    assert (
        f"FAIL offline refund-acts-at-once ({tmp_path / 'scenarios.yaml'}:7): turn 1: policy.outcome: expected act, "
        "got needs_approval"
    ) in out
    assert "supportbot explain dec_" in out and "--database supportbot_scenarios_" in out

    # the run is stored: `eval history` lists it with its figures and what it ran on, as a table and as JSON
    table = run(tmp_path / "home", "eval", "history")
    assert table.returncode == 0, table.stderr
    shown = " ".join(table.stdout.split())
    assert "scenarios" in shown and "offline" in shown and "pass rate 0.500, pass^1 0.500 (2 scenarios)" in shown
    listed = run(tmp_path / "home", "eval", "history", "--kind", "scenarios", "--json")
    assert listed.returncode == 0, listed.stderr
    [stored] = json.loads(listed.stdout)
    assert (stored["kind"], stored["mode"], stored["source"]) == ("scenarios", "offline", "cli")
    assert stored["figures"]["pass_rate"] == 0.5 and stored["figures"]["scenarios"] == 2
    assert stored["database"].startswith("supportbot_scenarios_") and set(stored["fingerprint"]) >= {"policy", "model"}
