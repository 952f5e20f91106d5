"""The `supportbot` command as a user runs it: a real process, embedded servers, the sample base."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cli

REPO = Path(__file__).resolve().parents[2]
SUPPORTBOT = [sys.executable, "-c", "from bot.cli import main; main()"]


def run(
    home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180, input_text: str = ""
) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in {"DATABASE_URL", "REDIS_URL", "SUPPORTBOT_HOME"}
    }
    environment |= {"SUPPORTBOT_HOME": str(home), "HF_HUB_OFFLINE": "1", "COLUMNS": "200", "NO_COLOR": "1"}
    environment |= env or {}
    return subprocess.run(
        [*SUPPORTBOT, *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=input_text,
    )


@pytest.fixture(scope="module")
def acme_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-home")
    result = run(home, "ingest", "examples/acme", "--review-every", "180d")
    assert result.returncode == 0, result.stderr
    assert "added 46, updated 0, unchanged 0, skipped 0, failed 0" in result.stdout
    return home


def test_reingesting_the_sample_base_costs_nothing(acme_home: Path) -> None:
    result = run(acme_home, "ingest", "examples/acme")
    assert result.returncode == 0, result.stderr
    assert "added 0, updated 0, unchanged 46, skipped 0, failed 0 (0 chunks written)" in result.stdout


def test_search_prints_cited_passages_with_freshness(acme_home: Path) -> None:
    result = run(acme_home, "search", "How many days do I have to send something back?", "--limit", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[1] ") and "[5] " in result.stdout
    assert "https://help.acme.example/returns/return-policy-30-day-window" in result.stdout
    assert "30 days" in result.stdout
    assert "owner maria.lopez@acme.example · updated today · review by 2027-05-31" in result.stdout


def test_search_json_scopes_private_documents_to_their_org(acme_home: Path) -> None:
    question = "Who is the account manager and how do we escalate a P1 incident?"
    as_globex = json.loads(run(acme_home, "search", question, "--org", "globex", "--json").stdout)
    assert as_globex[0]["org"] == "globex"
    assert as_globex[0]["doc_key"] == "customers/globex/globex-account-team-and-escalation"
    assert {"title", "heading_path", "source_url", "owner", "updated_at", "freshness", "scores"} <= set(as_globex[0])
    as_public = json.loads(run(acme_home, "search", question, "--json", "--limit", "10").stdout)
    as_other = json.loads(run(acme_home, "search", question, "--org", "initech", "--json", "--limit", "10").stdout)
    assert as_public and as_other
    assert all(item["org"] is None for item in as_public + as_other)


def test_stale_answers_are_marked(acme_home: Path) -> None:
    result = run(
        acme_home,
        "search",
        "How much does Acme Plus cost per month for subscription refunds?",
        "--mode",
        "dense",
        "--json",
        "--limit",
        "10",
    )
    items = json.loads(result.stdout)
    stale = [item for item in items if item["doc_key"] == "refunds/acme-plus-subscription-refunds"]
    assert stale and all(item["freshness"] == "stale" for item in stale)


def test_docs_reports_stale_and_ownerless_documents(acme_home: Path) -> None:
    stale = json.loads(run(acme_home, "docs", "--stale", "--json").stdout)
    assert {item["doc_key"].rsplit("/", 1)[-1] for item in stale} == {
        "international-shipping-customs",
        "promo-codes-and-discounts",
        "two-factor-authentication",
        "shipping-costs-free-shipping",
        "acme-plus-subscription-refunds",
        "firmware-update-stuck",
    }
    ownerless = json.loads(run(acme_home, "docs", "--no-owner", "--json").stdout)
    assert sorted(item["doc_key"] for item in ownerless) == ["returns/exchanges", "troubleshooting/app-crashes"]
    table = run(acme_home, "docs", "--stale")
    assert "6 documents" in table.stdout


def test_db_status_and_gaps_on_an_empty_log(acme_home: Path) -> None:
    status = run(acme_home, "db", "status")
    assert status.returncode == 0 and "0 pending" in status.stdout
    gaps = run(acme_home, "gaps", "--since", "7d")
    assert gaps.returncode == 0 and "No knowledge gaps recorded since" in gaps.stdout


def test_eval_retrieval_prints_json_figures_per_mode(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "passwords.md").write_text("# Resetting a password\n\nUse the reset link on the sign-in page.\n")
    (docs / "shipping.md").write_text("# Shipping times\n\nParcels arrive in three to five business days.\n")
    (docs / "codes.md").write_text("# Status code QX-77\n\nQX-77 means the firmware checksum failed.\n")
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        '{"question": "I forgot my password", "gold_doc_ids": ["passwords"]}\n'
        '{"question": "how long does delivery take", "gold_doc_ids": ["shipping"]}\n'
        '{"question": "QX-77", "gold_doc_ids": ["codes"]}\n'
    )
    result = run(tmp_path / "home", "eval", "retrieval", "--docs", str(docs), "--questions", str(questions), "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures) == {"hybrid", "dense", "fts"}
    assert set(figures["hybrid"]) == {"recall@1", "recall@5", "recall@10", "mrr@10"}
    assert figures["hybrid"]["recall@1"] == 1.0
    # the throw-away org is gone afterwards
    assert json.loads(run(tmp_path / "home", "docs", "--json").stdout) == []


ACME_QUESTIONS = {
    "How do I reset my password?": "reset-your-password",
    "How do I turn on two-factor authentication?": "two-factor-authentication",
    "How can I change the email address on my account?": "change-account-email",
    "How do I delete my account and export my data?": "delete-account-and-export-data",
    "What are the API rate limits?": "rate-limits",
    "How do I verify webhook signatures?": "webhooks-signature-verification",
    "Which payment methods do you accept?": "accepted-payment-methods",
    "How much does Acme Plus cost?": "acme-plus-plans-and-pricing",
    "My card payment failed, what now?": "failed-payments",
    "Where can I download an invoice with VAT?": "invoices-and-vat",
    "How do I use a promo code?": "promo-codes-and-discounts",
    "Can I get my Acme Plus subscription refunded?": "acme-plus-subscription-refunds",
    "How long does a refund take to reach my card?": "refund-timelines-by-payment-method",
    "How do I start a return?": "how-to-start-a-return",
    "Which items cannot be returned?": "non-returnable-items",
    "Can I exchange an item for another size?": "exchanges",
    "How do I track my order?": "track-your-order",
    "My parcel was lost, what can I do?": "lost-or-damaged-parcels",
    "Do you offer free shipping?": "shipping-costs-free-shipping",
    "Who is our account manager?": "globex-account-team-and-escalation",
    "What uptime does our service level agreement promise?": "globex-service-level-agreement",
}


def test_calibrate_fusion_measures_every_option_and_keeps_one_that_never_loses_to_dense(
    acme_home: Path, tmp_path: Path
) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "".join(json.dumps({"question": q, "gold_doc_ids": [doc]}) + "\n" for q, doc in ACME_QUESTIONS.items())
    )
    result = run(acme_home, "eval", "calibrate-fusion", "--org", "Globex", "--questions", str(questions), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["org"], report["questions"], report["stored"]) == ("globex", 21, True)
    assert report["questions_without_their_document"] == 0
    figures = report["figures"]
    assert {"dense-first 0", "dense-first 0.12", "convex 0.75", "rrf 0.5", report["default"]} <= set(figures)
    chosen, dense = figures[report["chosen"]], figures["dense-first 0"]
    assert all(chosen[key] >= dense[key] for key in ("recall@1", "recall@5", "mrr@10"))
    assert chosen["mrr@10"] == max(
        values["mrr@10"]
        for values in figures.values()
        if all(values[key] >= dense[key] for key in ("recall@1", "recall@5", "mrr@10"))
    )


def test_calibrate_fusion_looks_for_the_questions_beside_the_orgs_documents(acme_home: Path) -> None:
    result = run(acme_home, "eval", "calibrate-fusion", "--org", "globex")
    assert result.returncode == 1
    assert "no questions file at" in result.stderr
    assert "customers/globex/retrieval-questions.jsonl" in result.stderr
    assert "Traceback" not in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SEARCH_DENSE_WEIGHT": "2"}, "SEARCH_DENSE_WEIGHT"),
        ({"EMBEDDER": "magic"}, "EMBEDDER"),
        ({"DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:{port}/db"}, "Cannot reach PostgreSQL at DATABASE_URL"),
    ],
)
def test_bad_configuration_is_one_clear_sentence_without_traceback(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    env = {key: value.format(port=_free_port()) for key, value in env.items()}
    result = run(tmp_path, "db", "status", env=env)
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "hunter2" not in result.stderr


def test_ingest_names_bad_files_and_exits_zero_for_skips(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ok.md").write_text("# Fine\n\nA good article.\n")
    (tmp_path / "docs" / "bad.md").write_text("---\ntags: [unclosed\n---\nbody\n")
    result = run(tmp_path / "home", "ingest", str(tmp_path / "docs"), str(tmp_path / "nope"))
    assert result.returncode == 0, result.stderr
    assert "added 1, updated 0, unchanged 0, skipped 2, failed 0" in result.stdout
    assert "bad.md: malformed front matter" in result.stdout
    assert "nope: no such file or directory" in result.stdout


COMMANDS = [
    ["ingest"],
    ["search"],
    ["docs"],
    ["gaps"],
    ["reindex"],
    ["run"],
    ["worker"],
    ["chat"],
    ["explain"],
    ["audit"],
    ["doctor"],
    ["killswitch"],
    ["db", "migrate"],
    ["db", "status"],
    ["eval", "retrieval"],
    ["eval", "answers"],
    ["eval", "routing"],
    ["eval", "calibrate-fusion"],
    ["autonomy", "show"],
    ["autonomy", "set"],
    ["approvals", "list"],
    ["approvals", "propose"],
    ["approvals", "approve"],
    ["approvals", "deny"],
    ["approvals", "undo"],
    ["handoffs", "list"],
    ["handoffs", "claim"],
    ["handoffs", "back"],
    ["handoffs", "close"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    # in-process: help needs no database, and a process per command would cost seconds each
    from typer.testing import CliRunner

    from bot.cli.commands import build_app

    result = CliRunner().invoke(build_app(), [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and "--help" in result.output


def test_the_console_command_runs() -> None:
    result = run(Path("/nonexistent-home"), "--help")
    assert result.returncode == 0 and "approvals" in result.stdout and "explain" in result.stdout


def test_switching_embedders_is_refused_until_reindex(tmp_path: Path) -> None:
    from tests.fakes.openai_server import FakeOpenAI

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "refunds.md").write_text("# Refunds\n\nRefunds reach your card within ten days.\n")
    (tmp_path / "docs" / "shipping.md").write_text("# Shipping\n\nParcels arrive in three to five days.\n")
    home = tmp_path / "home"
    assert run(home, "ingest", str(tmp_path / "docs")).returncode == 0
    fake = FakeOpenAI().start()
    try:
        remote = {"EMBEDDER": "openai", "EMBEDDING_BASE_URL": fake.base_url, "EMBEDDING_API_KEY": "sk-secret-1"}
        refused = run(home, "search", "refunds", env=remote)
        assert refused.returncode == 1
        assert "sentence-transformers/all-MiniLM-L6-v2 (384 dimensions)" in refused.stderr
        assert "run `supportbot reindex`" in refused.stderr
        assert "Traceback" not in refused.stderr and "sk-secret-1" not in refused.stderr

        reindexed = run(home, "reindex", env=remote)
        assert reindexed.returncode == 0, reindexed.stderr
        assert "re-embedded 2 chunks and 0 gaps with openai:text-embedding-3-small" in reindexed.stdout

        found = json.loads(run(home, "search", "when do refunds reach my card", "--json", env=remote).stdout)
        assert found[0]["doc_key"] == "refunds"
        back = run(home, "search", "refunds")
        assert back.returncode == 1 and "openai:text-embedding-3-small (64 dimensions)" in back.stderr
    finally:
        fake.stop()


def test_a_slack_token_without_a_secret_or_app_token_stops_run_with_one_sentence(tmp_path: Path) -> None:
    result = run(tmp_path, "run", "--port", str(_free_port()), env={"SLACK_BOT_TOKEN": "xoxb-secret-value"})
    assert result.returncode == 1
    assert "SLACK_BOT_TOKEN needs SLACK_SIGNING_SECRET (events over HTTP) or SLACK_APP_TOKEN (Socket Mode)" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr and "xoxb-secret-value" not in result.stderr


def test_run_refuses_to_start_when_a_policy_action_has_no_executor(acme_home: Path) -> None:
    """Without the (opt-in) demo back end or a webhook nothing performs a refund: the bot must not start
    and tell customers "done"."""
    result = run(acme_home, "run", "--port", str(_free_port()), env={"DEMO_BACKEND": "false"})
    assert result.returncode == 1
    assert "examples/policy/acme.yaml declares `cancel_order`, `change_email`, `order_status`, `refund`," in (
        " ".join(result.stderr.split())
    )
    assert "DEMO_BACKEND=true" in result.stderr and "Traceback" not in result.stderr
