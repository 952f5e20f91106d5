"""`supportbot digest` on the sample company after a chat: what a team lead reads on Monday."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli.test_cli import run
from tests.fakes.slack_api import FakeSlack

pytestmark = pytest.mark.cli
REPO = Path(__file__).resolve().parents[2]


def test_digest_help_lists_its_options() -> None:
    from typer.testing import CliRunner

    from bot.cli.commands import build_app

    result = CliRunner().invoke(build_app(), ["digest", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    for option in ("--week", "--org", "--format", "--post", "--chart"):
        assert option in result.output


@pytest.mark.timeout(360)  # six processes, each starting embedded PostgreSQL; ingest and chat load the embedder
def test_digest_of_a_chat_on_the_sample_data(tmp_path: Path) -> None:
    assert run(tmp_path, "ingest", str(REPO / "examples" / "acme")).returncode == 0
    script = "\n".join(
        [
            "What does error E118 mean?",
            "Where is my order A-10231?",
            "I want a refund for order A-10231, the plug arrived broken",
            "$40",
            "Tell me a joke about pirates",
            "Can I talk to a human?",
            "/quit",
        ]
    )
    chat = run(tmp_path, "chat", input_text=script)
    assert chat.returncode == 0, chat.stderr
    approval = re.search(r"apr_[0-9a-f]{12}", chat.stdout)
    assert approval
    staff = run(tmp_path, "chat", "--as", "staff", input_text=f"/approve {approval.group(0)} 35.00\n")
    assert staff.returncode == 0, staff.stderr
    year, number, _ = datetime.now(UTC).isocalendar()
    week = f"{year}-W{number:02d}"

    result = run(tmp_path, "digest", "--week", week, "--format", "json")
    assert result.returncode == 0, result.stderr
    digest = json.loads(result.stdout)
    kpis = digest["kpis"]
    assert (kpis["conversations"], kpis["escalated"], kpis["resolved"], kpis["escalation_rate"]) == (1, 1, 0, 1.0)
    assert (kpis["answers"], kpis["first_pass_answers"]) == (1, 1)  # E118, answered, not asked again
    assert (kpis["approved_with_changes"], kpis["auto_approved"], kpis["pending"]) == (1, 1, 0)  # refund, status
    assert [item["kind"] for item in digest["exceptions"]] == ["unclaimed_handoff"]
    assert [gap["example"] for gap in digest["gaps"]] == ["Tell me a joke about pirates"]
    by_workflow = {row["name"]: row["kpis"] for row in digest["by_workflow"]}
    assert by_workflow["talk_to_human"]["conversations"] == 1
    assert by_workflow["refund"]["approved_with_changes"] == 1

    chart = tmp_path / "chart.png"
    text = run(tmp_path, "digest", "--week", week, "--chart", str(chart))
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"Weekly support digest: {week} (")
    assert "Escalation rate                             1 (100%)" in text.stdout
    assert "Unclaimed hand-offs (1)" in text.stdout and "the customer asked for a person" in text.stdout
    assert '1× "Tell me a joke about pirates" (no answer 1; public)' in text.stdout
    assert "Exchanging an item (returns/exchanges): no owner" in text.stdout
    assert chart.read_bytes().startswith(b"\x89PNG")

    post = run(tmp_path, "digest", "--post")
    assert post.returncode == 1
    assert "no Slack or Teams digest channel configured" in post.stderr

    with FakeSlack() as slack:
        env = {
            "SLACK_BOT_TOKEN": "xoxb-cli",
            "SLACK_SIGNING_SECRET": "secret",
            "SLACK_API_BASE_URL": slack.base_url,
            "SLACK_STAFF_CHANNEL": "C0STAFF",
            "SLACK_DIGEST_CHANNEL": "C0DIGEST",
        }
        posted = run(tmp_path, "digest", "--week", week, "--post", env=env)
        assert posted.returncode == 0, posted.stderr
        [message] = slack.calls_to("chat.postMessage")
        assert message.params["channel"] == "C0DIGEST" and week in message.params["text"]
        [upload] = slack.calls_to("files.completeUploadExternal")
        assert upload.params["channel_id"] == "C0DIGEST"
        assert any(data.startswith(b"\x89PNG") for data in slack.uploads.values())
