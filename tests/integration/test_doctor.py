"""`supportbot doctor` against real PostgreSQL+pgvector and Redis (in a database of its own on the session's
embedded server) and the local fakes of Slack, the Bot Connector with its login service, the model endpoint
and a webhook back end: a healthy set-up passes every line; each broken one fails exactly its own line."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr
from typer.testing import CliRunner

from bot.cli.commands import build_app
from bot.cli.doctor import report
from bot.doctor import DoctorOptions, diagnose
from bot.migrate import migrate
from bot.settings import EmbedderKind, Settings, load_settings
from bot.slack.scopes import REQUIRED_BOT_SCOPES
from bot.storage import database_url, open_pool
from escalation.readiness import Check, Status
from knowledge.embedder import LOCAL_MODEL_NAME
from knowledge.models import Chunk
from knowledge.store import KnowledgeStore, NewDocument
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.slack_api import FakeSlack
from tests.fakes.tls import loopback_certificate
from tests.fakes.webhook_server import SECRET as WEBHOOK_SECRET
from tests.fakes.webhook_server import FakeWebhook

pytestmark = pytest.mark.integration

POLICY = Path(__file__).resolve().parents[2] / "examples" / "policy" / "acme.yaml"
APP_ID = "33333333-4444-5555-6666-777777777777"
APP_SECRET = "doctor-secret"
SCOPE = "https://api.botframework.example"
GROUPS = ("support-leads", "billing", "shipping", "security", "support-tier1")
ACTIONS = "order_status,refund,reverse_refund,cancel_order,reinstate_order,change_email"
PING = Reply(None, tool_calls=(("ping", "{}"),))  # the model calls the probe's tool
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["ready", "summary", "checks"],
    "additionalProperties": False,
    "properties": {
        "ready": {"type": "boolean"},
        "summary": {
            "type": "object",
            "required": ["pass", "warn", "fail"],
            "additionalProperties": False,
            "properties": {name: {"type": "integer", "minimum": 0} for name in ("pass", "warn", "fail")},
        },
        "checks": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "status", "detail", "fix"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": r"^[a-z_]+(\.[a-z_]+)?$"},
                    "status": {"enum": ["pass", "warn", "fail"]},
                    "detail": {"type": "string", "minLength": 1},
                    "fix": {"type": ["string", "null"]},
                },
                # anything but a pass says how to fix it
                "if": {"properties": {"status": {"enum": ["warn", "fail"]}}},
                "then": {"properties": {"fix": {"type": "string", "minLength": 10}}},
            },
        },
    },
}


@dataclass
class Rig:
    settings: Settings
    slack: FakeSlack
    connector: FakeBotConnector
    model: FakeOpenAI
    webhook: FakeWebhook


@pytest.fixture(scope="module")
async def doctor_database(settings: Settings) -> AsyncIterator[str]:
    """A database of the doctor's own: its audit trail, approvals and knowledge are only what these tests put."""
    server = database_url(settings)
    name = f"doctor_{secrets.token_hex(3)}"
    async with await psycopg.AsyncConnection.connect(server, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server, dbname=name)
    finally:
        async with await psycopg.AsyncConnection.connect(server, autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def fakes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FakeSlack, FakeBotConnector, FakeOpenAI, FakeWebhook]]:
    certificate = loopback_certificate(tmp_path_factory.mktemp("doctor-tls"))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(certificate.cert_file)  # MSAL (requests) trusts the fake login
    slack = FakeSlack(scopes=sorted(REQUIRED_BOT_SCOPES))
    slack.usergroups = {f"S{i}": [f"U{i}"] for i, _ in enumerate(GROUPS)}
    slack.start()
    connector = FakeBotConnector().start()
    connector.serve_login(certificate, app_id=APP_ID, app_password=APP_SECRET, scope=SCOPE)
    connector.members = {"aad-lead": {"id": "29:lead", "name": "Lena Lead", "aadObjectId": "aad-lead"}}
    model = FakeOpenAI().start()
    webhook = FakeWebhook().start()
    try:
        yield slack, connector, model, webhook
    finally:
        for fake in (slack, connector, model, webhook):
            fake.stop()
        if bundle is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = bundle


@pytest.fixture(scope="module")
async def rig(
    doctor_database: str, session_home: Path, fakes: tuple[FakeSlack, FakeBotConnector, FakeOpenAI, FakeWebhook]
) -> Rig:
    slack, connector, model, webhook = fakes
    settings = load_settings(
        supportbot_home=session_home,
        database_url=SecretStr(doctor_database),
        policy_file=POLICY,
        demo_backend=False,
        webhook_url=webhook.url,
        webhook_secret=SecretStr(WEBHOOK_SECRET),
        webhook_actions=ACTIONS,
        slack_bot_token=SecretStr("xoxb-doctor"),
        slack_signing_secret=SecretStr("signing"),
        slack_api_base_url=slack.base_url,
        slack_staff_channel="C0STAFF",
        slack_digest_channel="C0DIGEST",
        slack_groups=",".join(f"{name}=S{i}" for i, name in enumerate(GROUPS)),
        microsoft_app_id=APP_ID,
        microsoft_app_password=SecretStr(APP_SECRET),
        microsoft_login_url=connector.login_url,
        microsoft_oauth_scope=SCOPE,
        microsoft_validate_authority=False,
        teams_service_url=connector.url,
        teams_staff_conversation="19:staff@thread.tacv2",
        teams_digest_conversation="19:digest@thread.tacv2",
        teams_groups=",".join(f"{name}=aad-lead" for name in GROUPS),
        llm_base_url=model.base_url,
        llm_api_key=SecretStr("sk-doctor"),
        llm_model="fake-chat",
    )
    async with open_pool(settings) as pool:
        await migrate(pool)
        store = KnowledgeStore(pool)
        await store.reset_embedding_space(LOCAL_MODEL_NAME, 384)
        owned = NewDocument(
            org=None,
            doc_key="returns/return-window",
            title="Return window",
            owner="maria.lopez@acme.example",
            source_path=None,
            source_url=None,
            tags=("returns",),
            review_by=date.today() + timedelta(days=90),
            content_hash="doctor-1",
        )
        await store.replace_document(owned, [Chunk(0, (), "30 days.")], np.ones((1, 384), dtype=np.float32))
    return Rig(settings, slack, connector, model, webhook)


async def run(settings: Settings, model: FakeOpenAI, *, drill: bool = False) -> dict[str, Check]:
    model.reset()
    model.script(PING)
    checks = await diagnose(settings, DoctorOptions(drill=drill))
    assert len({check.name for check in checks}) == len(checks), "every line has its own name"
    return {check.name: check for check in checks}


def not_passing(checks: dict[str, Check]) -> dict[str, Check]:
    return {name: check for name, check in checks.items() if check.status is not Status.PASS}


async def test_a_healthy_set_up_passes_every_line(rig: Rig) -> None:
    checks = await run(rig.settings, rig.model)
    assert not_passing(checks) == {}
    for name in (
        "settings",
        "postgres",
        "migrations",
        "redis",
        "slack.auth",
        "slack.scopes",
        "slack.staff_channel",
        "slack.digest_channel",
        "teams.token",
        "teams.staff_channel",
        "teams.digest_channel",
        "llm",
        "embedder",
        "policy",
        "workflow.refund",
        "policy.executors",
        "policy.rollbacks",
        "knowledge.owners",
        "knowledge.review",
        "knowledge.domains",
        "prompts.owners",
        "audit.trail",
        "digest",
    ):
        assert name in checks, name
    assert "pgvector" in checks["postgres"].detail
    assert checks["digest"].detail == "every mon at 09:00 UTC to Slack C0DIGEST and Teams 19:digest@thread.tacv2"
    assert "refund→reverse_refund" in checks["policy.rollbacks"].detail
    assert "refund: webhook" in checks["policy.executors"].detail
    assert "slack" in checks["workflow.refund"].detail and "teams" in checks["workflow.refund"].detail
    assert rig.connector.login_requests["token"] >= 1  # a real token from the login service
    assert rig.model.chat_requests[0]["tools"][0]["function"]["name"] == "ping"


@pytest.mark.parametrize(
    ("broken", "line", "says", "fix"),
    [
        ("missing scope", "slack.scopes", "usergroups:read", "reinstall"),
        ("bot not in the staff channel", "slack.staff_channel", "not in #", "/invite"),
        ("Redis unreachable", "redis", "Cannot reach Redis", "REDIS_URL"),
        ("wrong Teams secret", "teams.token", "no Bot Framework token", "MICROSOFT_APP_PASSWORD"),
        ("bot not in the Teams staff channel", "teams.staff_channel", "cannot be read", "install the bot"),
        ("model endpoint down", "llm", "did not answer a one-line request", "LLM_BASE_URL"),
        ("another embedder", "embedder", "does not match the vectors stored: " + LOCAL_MODEL_NAME, "reindex"),
    ],
)
async def test_a_broken_part_fails_its_own_line_only(
    rig: Rig, broken: str, line: str, says: str, fix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = rig.settings
    if broken == "missing scope":
        monkeypatch.setattr(rig.slack, "scopes", sorted(REQUIRED_BOT_SCOPES - {"usergroups:read"}))
    elif broken == "bot not in the staff channel":
        monkeypatch.setitem(rig.slack.channels, "C0STAFF", {"is_member": False})
    elif broken == "bot not in the Teams staff channel":
        monkeypatch.setattr(rig.connector, "missing", {"19:staff@thread.tacv2"})
    elif broken == "model endpoint down":
        settings = settings.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1", "llm_max_retries": 0})
    elif broken == "another embedder":  # the fake's 64-dimension vectors, not the stored 384
        update = {
            "embedder": EmbedderKind.OPENAI,
            "embedding_base_url": rig.model.base_url,
            "embedding_api_key": SecretStr("k"),
        }
        settings = settings.model_copy(update=update)
    elif broken == "Redis unreachable":
        settings = settings.model_copy(update={"redis_url": SecretStr("redis://127.0.0.1:9/0")})
    else:
        settings = settings.model_copy(update={"microsoft_app_password": SecretStr("wrong")})
    failing = not_passing(await run(settings, rig.model))
    if broken == "wrong Teams secret":  # without a token Teams cannot say who is who: Slack still can
        assert "teams.staff_channel" not in failing
    assert list(failing) == [line], failing
    assert failing[line].status is Status.FAIL
    assert says in failing[line].detail and fix in failing[line].fix


def edited_policy(tmp_path: Path, old: str, new: str) -> Path:
    text = POLICY.read_text("utf-8")
    assert old in text
    path = tmp_path / "policy.yaml"
    path.write_text(text.replace(old, new, 1), "utf-8")
    return path


async def test_a_workflow_without_owner_fails_the_policy_line(rig: Rig, tmp_path: Path) -> None:
    missing = edited_policy(tmp_path, "    owner: billing@acme.example\n", "")
    failing = not_passing(await run(rig.settings.model_copy(update={"policy_file": missing}), rig.model))
    assert list(failing) == ["policy"]
    assert "workflows.refund.owner: Field required" in failing["policy"].detail
    assert "POLICY_FILE" in failing["policy"].fix

    blank = edited_policy(tmp_path, "owner: billing@acme.example", 'owner: " "')
    failing = not_passing(await run(rig.settings.model_copy(update={"policy_file": blank}), rig.model))
    assert list(failing) == ["workflow.refund"]
    assert failing["workflow.refund"].detail == "names no owner"


async def test_an_action_without_rollback_fails_the_rollback_line(rig: Rig, tmp_path: Path) -> None:
    policy = edited_policy(tmp_path, "    rollback: reinstate_order\n", "")
    failing = not_passing(await run(rig.settings.model_copy(update={"policy_file": policy}), rig.model))
    assert list(failing) == ["policy.rollbacks"]
    assert failing["policy.rollbacks"].detail == "no rollback declared for cancel_order"
    assert "reversible: false" in failing["policy.rollbacks"].fix


async def test_a_pending_migration_fails_the_migrations_line(rig: Rig) -> None:
    async with await psycopg.AsyncConnection.connect(rig.settings.database_url.get_secret_value()) as conn:  # type: ignore[union-attr]
        row = await (
            await conn.execute(
                "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations) RETURNING *"
            )
        ).fetchone()
        await conn.commit()
        assert row is not None
        try:
            failing = not_passing(await run(rig.settings, rig.model))
        finally:
            await conn.execute("INSERT INTO schema_migrations VALUES (%s, %s, %s, %s)", row)
            await conn.commit()
    assert list(failing) == ["migrations"]
    assert f"1 pending: {row[0]:04d}_{row[1]}" in failing["migrations"].detail
    assert "supportbot db migrate" in failing["migrations"].fix


async def test_an_executed_refund_without_its_approval_row_fails_the_audit_line(rig: Rig) -> None:
    async with await psycopg.AsyncConnection.connect(rig.settings.database_url.get_secret_value()) as conn:  # type: ignore[union-attr]
        await conn.execute(
            "INSERT INTO approvals (id, workflow, action, params, proposed_params, requested_by, risk, rule, state, "
            "expires_at, idempotency_key, executed_at) VALUES ('apr_noapproval', 'refund', 'refund', '{}', '{}', "
            "'U-agent', 'medium', 'autonomy_approve', 'executed', now() + interval '1 day', 'key-noapproval', now())"
        )
        for event in ("approval_requested", "executed"):  # the "approved" row is missing
            await conn.execute(
                "INSERT INTO audit_log (event, actor, workflow, subject_type, subject_id) "
                "VALUES (%s, 'U-agent', 'refund', 'approval', 'apr_noapproval')",
                (event,),
            )
        await conn.commit()
        try:
            failing = not_passing(await run(rig.settings, rig.model))
        finally:
            await conn.execute("DELETE FROM approvals WHERE id = 'apr_noapproval'")
            await conn.commit()
    assert list(failing) == ["audit.trail"]
    assert "apr_noapproval (refund refund) lacks its approval" in failing["audit.trail"].detail


async def test_the_drill_runs_each_action_and_its_rollback_in_a_sandbox_and_the_audit_trail_shows_both(
    rig: Rig,
) -> None:
    rig.webhook.dry_runs.clear()
    checks = await run(rig.settings, rig.model, drill=True)
    drills = {name: check for name, check in checks.items() if name.startswith("drill.")}
    assert set(drills) == {"drill.order_status", "drill.refund", "drill.cancel_order", "drill.change_email"}
    assert not_passing(checks) == {}
    refund = drills["drill.refund"].detail
    assert "refund (dry run: would refund) audited approval_requested → approved → executed → rolled_back" in refund
    assert "reverse_refund (dry run: would reverse_refund) audited rollback_requested → approved → executed" in refund
    # the back end got every request marked as a dry run, and ran none of them
    assert [body["action"] for body in rig.webhook.dry_runs].count("reverse_refund") == 1
    assert all(body["dry_run"] is True for body in rig.webhook.dry_runs) and not rig.webhook.ran
    assert rig.webhook.requests[-1].headers["X-Supportbot-Dry-Run"] == "true"
    # the real trail keeps one row per drilled workflow; the sandbox's approvals are gone with it
    async with await psycopg.AsyncConnection.connect(rig.settings.database_url.get_secret_value()) as conn:  # type: ignore[union-attr]
        rows = await (
            await conn.execute("SELECT workflow, detail FROM audit_log WHERE event = 'doctor_drill' ORDER BY id")
        ).fetchall()
        approvals = await (
            await conn.execute("SELECT count(*) FROM approvals WHERE requested_by = 'doctor:drill'")
        ).fetchone()
        sandboxes = await (
            await conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'supportbot_drill_%'")
        ).fetchone()
    trail = {workflow: detail for workflow, detail in rows}
    assert trail["refund"]["status"] == "pass"
    assert [line.split(": ")[1] for line in trail["refund"]["sandbox_audit"]] == [
        "approval_requested",
        "approved",
        "executed",
        "rolled_back",
        "rollback_requested",
        "approved",
        "executed",
    ]
    assert approvals == (0,) and sandboxes == (0,)


async def test_the_drill_on_the_demo_back_end_acts_on_a_throw_away_copy(rig: Rig) -> None:
    demo = rig.settings.model_copy(update={"demo_backend": True, "webhook_url": None})
    checks = await run(demo, rig.model, drill=True)
    assert checks["policy.executors"].status is Status.WARN  # demo mode is not go-live
    assert "DEMO_BACKEND=false" in checks["policy.executors"].fix
    refund = checks["drill.refund"]
    assert refund.status is Status.PASS, refund
    assert (
        "(demo) Refunded $1.00 to the card ending" in refund.detail
        and "(demo) Reversed the $1.00 refund" in refund.detail
    )
    assert "(demo) Changed the account's email address" in checks["drill.change_email"].detail
    async with open_pool(rig.settings) as pool, pool.connection() as conn:
        refunds = await (
            await conn.execute("SELECT count(*) FROM demo.refunds WHERE reason = 'Doctor drill'")
        ).fetchone()
    assert refunds == (0,)  # the deployment's own demo data never saw the drill


def test_the_command_prints_one_line_per_check_and_json_that_validates(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = {
        "SUPPORTBOT_HOME": str(rig.settings.supportbot_home),
        "DATABASE_URL": rig.settings.database_url.get_secret_value(),  # type: ignore[union-attr]
        "POLICY_FILE": str(POLICY),
        "DEMO_BACKEND": "false",
        "WEBHOOK_URL": rig.webhook.url,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WEBHOOK_ACTIONS": ACTIONS,
        "SLACK_BOT_TOKEN": "xoxb-doctor",
        "SLACK_SIGNING_SECRET": "signing",
        "SLACK_API_BASE_URL": rig.slack.base_url,
        "SLACK_STAFF_CHANNEL": "C0STAFF",
        "SLACK_GROUPS": rig.settings.slack_groups,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    app = build_app()
    rig.model.reset()
    healthy = CliRunner().invoke(app, ["doctor", "--json"])
    assert healthy.exit_code == 0, healthy.output
    document = json.loads(healthy.stdout)
    jsonschema.validate(document, SCHEMA)
    assert document["ready"] is True and document["summary"]["fail"] == 0

    monkeypatch.setitem(rig.slack.channels, "C0STAFF", {"is_member": False})
    broken = CliRunner().invoke(app, ["doctor"])
    assert broken.exit_code == 1
    lines = broken.stdout.strip().splitlines()
    assert len(lines) == len(document["checks"]) + 1  # one per check, then the verdict
    failing = [line for line in lines if line.startswith("FAIL")]
    assert len(failing) == 1 and "slack.staff_channel" in failing[0] and "→ Invite the bot" in failing[0]
    assert lines[-1].endswith("NOT ready: fix every FAIL line first")

    monkeypatch.setenv("TURN_TIMEOUT", "-1")  # nothing else can be checked without valid settings
    invalid = CliRunner().invoke(app, ["doctor"])
    assert invalid.exit_code == 1
    first, verdict = invalid.stdout.strip().splitlines()
    assert first.startswith("FAIL  settings  Invalid setting TURN_TIMEOUT") and "→ Fix the named setting" in first
    assert verdict == "0 pass, 0 warn, 1 fail: NOT ready: fix every FAIL line first"
    assert report([]) == {"ready": True, "summary": {"pass": 0, "warn": 0, "fail": 0}, "checks": []}
