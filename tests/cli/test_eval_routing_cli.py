"""`supportbot eval routing` as a user runs it: a real process, the local embedder, no database."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.test_cli import run

pytestmark = pytest.mark.cli

INTENTS = {
    "order_status": [
        "Where is my order?",
        "When will my package arrive?",
        "Can you track my parcel?",
        "Has my order shipped yet?",
        "My delivery is late, where is it?",
    ],
    "reset_password": [
        "I forgot my password",
        "How do I reset my password?",
        "The password reset link does not work",
        "I need a new password for my account",
        "Can't remember my login password",
    ],
    "cancel_subscription": [
        "Cancel my subscription",
        "How do I stop my monthly plan?",
        "I want to end my membership",
        "Please cancel the recurring payment for my plan",
        "Unsubscribe me from the paid plan",
    ],
}
VALIDATION = [
    ("where's my package, it should have come by now", "order_status"),
    ("reset the password on my account please", "reset_password"),
    ("I'd like to cancel my membership plan", "cancel_subscription"),
    ("What's a good recipe for banana bread?", "oos"),
    ("Who painted the Mona Lisa?", "oos"),
]
TEST = [
    ("track my order for me", "order_status"),
    ("I lost my password and can't sign in", "reset_password"),
    ("stop my subscription from renewing", "cancel_subscription"),
    ("How tall is Mount Everest?", "oos"),
]
KEYS = {"accuracy", "in_scope_accuracy", "macro_f1", "oos_precision", "oos_recall", "threshold"}
VALIDATION_KEYS = {
    "oos_recall_target",
    "validation",
    "holdout_folds",
    "pseudo_oos_lines",
    "pool_oos_recall",
    "frontier",
}


def write_jsonl(path: Path, examples: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"text": text, "label": label}) + "\n" for text, label in examples))
    return path


@pytest.fixture
def sets(tmp_path: Path) -> dict[str, Path]:
    train = [(text, label) for label, texts in INTENTS.items() for text in texts]
    return {
        "train": write_jsonl(tmp_path / "train.jsonl", [*train, ("Tell me a joke", "oos")]),
        "validation": write_jsonl(tmp_path / "validation.jsonl", VALIDATION),
        "test": write_jsonl(tmp_path / "test.jsonl", TEST),
    }


def test_json_figures_on_an_easy_set(tmp_path: Path, sets: dict[str, Path]) -> None:
    home = tmp_path / "home"
    result = run(
        home,
        "eval",
        "routing",
        "--train",
        str(sets["train"]),
        "--test",
        str(sets["test"]),
        "--validation",
        str(sets["validation"]),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures) == KEYS | VALIDATION_KEYS
    assert figures["oos_recall_target"] == 0.8  # ROUTING_OOS_RECALL's default
    # ROUTING_HOLDOUT_FOLDS (5) capped by the three intents: each held out once, its 5 training and 1 validation lines
    assert (figures["holdout_folds"], figures["pseudo_oos_lines"]) == (3, 18)
    assert figures["pool_oos_recall"] >= 0.8
    assert figures["validation"]["oos_recall"] >= 0.8
    assert figures["validation"]["in_scope_accuracy"] == 1.0
    assert figures["frontier"][0] == {
        "threshold": 0.0,
        "in_scope_accuracy": 1.0,
        "oos_recall": 0.0,
        "validation_oos_recall": 0.0,
    }
    assert figures["frontier"][-1]["oos_recall"] == 1.0
    assert figures["accuracy"] == 1.0
    assert figures["in_scope_accuracy"] == 1.0
    assert figures["macro_f1"] == 1.0
    assert figures["oos_precision"] == figures["oos_recall"] == 1.0
    assert 0 < figures["threshold"] < 1
    # no database was opened: the embedded server would have created the home folder
    assert not home.exists()


def test_without_validation_there_is_no_threshold(tmp_path: Path, sets: dict[str, Path]) -> None:
    in_scope = write_jsonl(tmp_path / "in-scope.jsonl", TEST[:3])
    result = run(tmp_path / "home", "eval", "routing", "--train", str(sets["train"]), "--test", str(in_scope), "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["threshold"] is None
    assert figures["accuracy"] == 1.0
    assert figures["oos_precision"] is None and figures["oos_recall"] is None


def test_validation_alone_prints_the_frontier_and_cross_validation(tmp_path: Path, sets: dict[str, Path]) -> None:
    result = run(
        tmp_path / "home",
        "eval",
        "routing",
        "--train",
        str(sets["train"]),
        "--validation",
        str(sets["validation"]),
        "--oos-recall",
        "1",
        "--folds",
        "5",
        "--holdout-folds",
        "0",
        "--frontier",
    )
    assert result.returncode == 0, result.stderr
    assert "chosen for" in result.stdout and "out-of-scope recall 1.00" in result.stdout
    assert re.search(r"5-fold accuracy on train\s*\S*\s*1\.000", result.stdout)
    assert "in scope: the validation lines" in result.stdout
    assert re.search(r"held-out-intent folds\s*\S\s*none", result.stdout)
    assert re.search(r"pseudo out-of-scope lines\s*\S\s*0\b", result.stdout)
    assert re.search(r"0\.00\s*\S\s*1\.000\s*\S\s*0\.000", result.stdout)  # the frontier's first point
    assert "test lines" not in result.stdout


def test_nothing_to_score_is_one_sentence(sets: dict[str, Path]) -> None:
    # in-process: it stops before loading anything, and a process would cost seconds
    from typer.testing import CliRunner

    from bot.cli.commands import build_app

    result = CliRunner().invoke(build_app(), ["eval", "routing", "--train", str(sets["train"])])
    assert result.exit_code == 2
    assert "give --test, --validation or --folds" in result.output


def test_table_output(tmp_path: Path, sets: dict[str, Path]) -> None:
    result = run(
        tmp_path / "home",
        "eval",
        "routing",
        "--train",
        str(sets["train"]),
        "--test",
        str(sets["test"]),
        "--validation",
        str(sets["validation"]),
    )
    assert result.returncode == 0, result.stderr
    for row in ("in-scope accuracy", "macro-F1", "out-of-scope recall", "threshold", "train lines", "test lines"):
        assert row in result.stdout
    # 16 training lines, the out-of-scope one included; it is skipped by the fit, not by the count
    assert re.search(r"train lines\s*\S\s*16\b", result.stdout)
    assert re.search(r"test lines\s*\S\s*4\b", result.stdout)


def test_a_bad_line_is_one_sentence_naming_file_and_line(tmp_path: Path, sets: dict[str, Path]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "where is my order", "label": "order_status"}\n{"text": "no label"}\n')
    result = run(tmp_path / "home", "eval", "routing", "--train", str(sets["train"]), "--test", str(bad))
    assert result.returncode == 1
    assert f"{bad}:2: expected" in result.stderr
    assert "Traceback" not in result.stderr


def test_one_holdout_fold_is_one_sentence(sets: dict[str, Path]) -> None:
    from typer.testing import CliRunner

    from bot.cli.commands import build_app

    arguments = ["eval", "routing", "--train", str(sets["train"]), "--validation", str(sets["validation"])]
    result = CliRunner().invoke(build_app(), [*arguments, "--holdout-folds", "1"])
    assert result.exit_code == 2
    said = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())  # the error box wraps its lines
    assert "--holdout-folds: 0 (off) or at least 2: one fold would hold out every intent" in said
