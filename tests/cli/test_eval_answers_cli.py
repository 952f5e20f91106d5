"""`supportbot eval answers` as a user runs it: a real process, the local embedder, a throw-away org."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.cli
QUESTIONS = [
    {
        "id": "qx",
        "question": "What does error QX-77 mean?",
        "doc": "codes",
        "must": ["Firmware checksum failed"],
        "must_not": ["QX-78"],
        "kind": "error_code",
    },
    {"id": "pw", "question": "How long is the password reset link valid?", "doc": "passwords", "must": ["60 minutes"]},
    {
        "id": "qx2",
        "question": "And QX-78?",
        "doc": "codes",
        "must": ["Battery low"],
        "kind": "follow_up",
        "after": "qx",
    },
]


@pytest.fixture
def dev_set(tmp_path: Path) -> tuple[Path, Path]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "codes.md").write_text(
        "# Device status codes\n\nEvery device shows a status code when something goes wrong.\n\n"
        "| Code | Meaning | What to try |\n|---|---|---|\n"
        "| QX-77 | Firmware checksum failed | Re-download the update |\n"
        "| QX-78 | Battery low | Charge the device |\n"
    )
    (docs / "passwords.md").write_text(
        "# Resetting a forgotten password\n\nUse the reset link we email you. The password reset link is valid "
        "for **60 minutes** and works only once.\n"
    )
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(item) + "\n" for item in QUESTIONS))
    return docs, questions


def test_offline_figures_as_json_and_every_answer_in_the_details(tmp_path: Path, dev_set: tuple[Path, Path]) -> None:
    docs, questions = dev_set
    details = tmp_path / "details.jsonl"
    args = ["eval", "answers", "--docs", str(docs), "--questions", str(questions), "--details", str(details)]
    result = run(tmp_path / "home", *args, "--json")
    assert result.returncode == 0, result.stderr
    offline = json.loads(result.stdout)["offline"]
    assert offline["questions"] == 3 and offline["answered"] == 3
    assert offline["key_phrase_hit_rate"] == 1.0 and offline["must_not_violations"] == 0
    assert offline["citation_precision"] == 1.0 and offline["lead_document_accuracy"] == 1.0
    assert offline["flattened_tables"] == 0 and offline["median_words"] <= 30
    rows = {row["id"]: row for row in map(json.loads, details.read_text().splitlines())}
    assert rows["qx"]["answer"].startswith("Code QX-77 · Meaning: Firmware checksum failed")
    assert rows["qx2"]["answer"].startswith("Code QX-78 · Meaning: Battery low")  # read with its thread
    assert json.loads(run(tmp_path / "home", "docs", "--json").stdout) == []  # the throw-away org is gone

    table = run(tmp_path / "home", *args)
    assert table.returncode == 0 and "key-phrase hit rate" in table.stdout and "offline" in table.stdout


def test_with_a_model_configured_its_drafts_are_judged_too(tmp_path: Path, dev_set: tuple[Path, Path]) -> None:
    docs, questions = dev_set
    fake = FakeOpenAI().start()
    try:
        # every draft cites nothing ("OK"), so the same checks as the core's reject it: the offline answer stands
        model = {"LLM_BASE_URL": fake.base_url, "LLM_MODEL": "gpt-test", "LLM_API_KEY": "sk-test", "LLM_PRICES": ""}
        args = ["eval", "answers", "--docs", str(docs), "--questions", str(questions), "--json"]
        result = run(tmp_path / "home", *args, env=model)
    finally:
        fake.stop()
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures) == {"offline", "model"} and figures["model"]["questions"] == 3
    assert any(
        "Customer question:\nWhat does error QX-77 mean?" in r["messages"][0]["content"] for r in fake.chat_requests
    )


def test_a_bad_question_line_is_named(tmp_path: Path, dev_set: tuple[Path, Path]) -> None:
    docs, questions = dev_set
    questions.write_text(questions.read_text() + '{"id": "x", "question": "No phrases", "doc": "codes"}\n')
    result = run(tmp_path / "home", "eval", "answers", "--docs", str(docs), "--questions", str(questions))
    assert result.returncode == 2
    assert "questions.jsonl:4" in result.stderr and "must" in result.stderr and "Traceback" not in result.stderr
