"""`supportbot chat` driven through standard input, then `supportbot explain` on what it decided."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.test_cli import run

pytestmark = pytest.mark.cli
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(360)  # five processes, each loading the model; a loaded CI machine needs the room
def test_chat_paths_and_explain(tmp_path: Path) -> None:
    assert run(tmp_path, "ingest", str(REPO / "examples" / "acme")).returncode == 0
    script = "\n".join(
        [
            "What does error E118 mean?",
            "Where is my order A-10231?",
            "I want a refund for order A-10231, the plug arrived broken",
            "$40",
            "/approvals",
            "Tell me a joke about pirates",
            "Can I talk to a human?",
            "/quit",
        ]
    )
    result = run(tmp_path, "chat", input_text=script)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "[1] Device and app error codes E101–E120" in text
    assert "(demo) Order A-10231 was delivered on" in text
    assert "How much should be refunded (for example $25.00)?" in text
    assert "I've asked a teammate to approve a refund of $40.00 for order A-10231." in text
    assert "[staff] Approval needed: refund $40.00 (apr_" in text and "1 pending" in text
    assert "That's outside what I can help with here" in text
    assert "I've asked a person from our team to join" in text

    approval = re.search(r"apr_[0-9a-f]{12}", text)
    assert approval
    staff = run(tmp_path, "chat", "--as", "staff", input_text=f"/approve {approval.group(0)} 35.00\n")
    told = "Good news: (demo) Refunded $35.00 to the card ending 4242 for order A-10231."
    assert told in " ".join(staff.stdout.split())

    audit = json.loads(run(tmp_path, "audit", "--format", "json").stdout)
    decision = next(e["decision_id"] for e in audit if e["workflow"] == "refund" and e["decision_id"])
    explained = " ".join(run(tmp_path, "explain", decision).stdout.split())
    assert f"Decision {decision}" in explained
    assert "Proposed refund for workflow refund: reason=I want a refund for order A-10231" in explained
    assert "Policy: needs_approval by rule autonomy_approve" in explained
    assert "executed by cli-staff with changes" in explained
    assert "Refunded $35.00 to the card ending 4242" in explained
