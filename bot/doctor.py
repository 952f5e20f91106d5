"""`supportbot doctor`: the pre-expansion checklist, one `Check` per line, from the live set-up.

The verdicts over data are pure functions in escalation/, handlers/ and scheduler/ (`*/readiness.py`); this
module gathers what they need from PostgreSQL, Redis, the chat platforms and the model endpoint. Nothing here
changes the deployment, except what start-up does anyway (the `vector` extension, the demo seed in demo mode)
and, with `--drill`, one `doctor_drill` row per workflow in the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg

from bot.core_factory import build_language_model
from bot.doctor_drill import run_drill
from bot.executors import open_executors
from bot.migrate import MigrationError, status
from bot.providers.openai.probe import PROBE_SECONDS, probe_tools
from bot.services import build_embedder
from bot.settings import Settings, SettingsError
from bot.storage import StorageError, open_pool, open_redis
from escalation.audit import executed_since
from escalation.errors import PolicyError
from escalation.policy import Policy, load_policy
from escalation.readiness import (
    HIGH_IMPACT,
    Check,
    Resolution,
    Status,
    audit_trail_check,
    executor_check,
    failed,
    passed,
    people_named,
    rollback_check,
    warned,
    workflow_checks,
)
from handlers.prompts import template_owners
from handlers.readiness import knowledge_checks, prompt_check
from knowledge.embedder import CachingEmbedder
from knowledge.errors import KnowledgeError
from knowledge.store import KnowledgeStore, Pool
from scheduler.readiness import digest_check

log = logging.getLogger(__name__)

AUDIT_DAYS = 7
_FIX_MIGRATE = "Run `supportbot db migrate` (start-up does it too), then run the doctor again."


@dataclass(frozen=True)
class DoctorOptions:
    drill: bool = False


async def diagnose(settings: Settings, options: DoctorOptions = DoctorOptions()) -> list[Check]:
    checks: list[Check] = [
        passed("settings", f"valid; policy {settings.policy_file}, data in {settings.supportbot_home}")
    ]
    policy, policy_line = _policy(settings)
    async with AsyncExitStack() as stack:
        reachable = await _postgres(settings, stack, checks)
        pool = None
        if reachable is not None:
            migrations = await _guarded("migrations", _migrations(reachable))
            checks.append(migrations)
            # a database without the current schema would fail every check that reads it, for one reason
            pool = reachable if migrations.status is Status.PASS else None
        checks.append(await _redis(settings))
        checks.append(await _model(settings))
        if pool is not None:
            checks.append(await _guarded("embedder", _embedder(pool, settings)))
        platform_lines, resolutions = await _platforms(settings, policy)
        checks += [*platform_lines, policy_line]
        if policy is not None:
            checks += workflow_checks(policy, resolutions, lead_group=settings.lead_group)
        if policy is not None:
            if pool is not None:
                checks.append(await _guarded("policy.executors", _executors(settings, pool, policy)))
            checks.append(rollback_check(policy))
            if options.drill and pool is not None:
                checks += await run_drill(settings, pool, policy)
        if pool is not None:
            today = datetime.now(settings.zone).date()
            checks += await _guarded_many("knowledge", _knowledge(pool, today))
        checks.append(prompt_check(template_owners()))
        if pool is not None:
            since = datetime.now(UTC) - timedelta(days=AUDIT_DAYS)
            checks.append(await _guarded("audit.trail", _audit(pool, since)))
        checks.append(
            digest_check(settings.digest_schedule, zone=settings.supportbot_timezone, channels=_digest(settings))
        )
    return checks


def _policy(settings: Settings) -> tuple[Policy | None, Check]:
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as exc:
        return None, failed(
            "policy",
            f"{exc} (the workflow, executor and drill checks did not run)",
            "Fix the named fields in POLICY_FILE; `examples/policy/acme.yaml` shows every one.",
        )
    return policy, passed("policy", f"{settings.policy_file}: {len(policy.workflows)} workflows")


async def _postgres(settings: Settings, stack: AsyncExitStack, checks: list[Check]) -> Pool | None:
    try:
        pool: Pool = await stack.enter_async_context(open_pool(settings, connect_timeout=5.0))
        async with pool.connection() as conn:
            row = await (await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).fetchone()
    except (StorageError, psycopg.Error) as exc:
        checks.append(
            failed("postgres", str(exc), "Start PostgreSQL with pgvector, or fix DATABASE_URL (unset: embedded).")
        )
        return None
    checks.append(passed("postgres", f"reachable, pgvector {row[0] if row else '?'}"))
    return pool


async def _guarded(name: str, check: Awaitable[Check]) -> Check:
    """A check whose query fails (on tables a pending migration would create, say) fails its own line only."""
    try:
        return await check
    except psycopg.Error as exc:
        return failed(name, f"could not read the database: {exc}", _FIX_MIGRATE)


async def _guarded_many(name: str, checks: Awaitable[list[Check]]) -> list[Check]:
    try:
        return await checks
    except psycopg.Error as exc:
        return [failed(name, f"could not read the database: {exc}", _FIX_MIGRATE)]


async def _migrations(pool: Pool) -> Check:
    try:
        states = await status(pool)
    except MigrationError as exc:
        return failed("migrations", str(exc), "Run the supportbot version that made this database, or a newer one.")
    pending = [f"{s.migration.version:04d}_{s.migration.name}" for s in states if s.applied_at is None]
    if pending:
        return failed(
            "migrations",
            f"{len(pending)} pending: {', '.join(pending)} (the checks that read the database did not run)",
            _FIX_MIGRATE,
        )
    return passed("migrations", f"all {len(states)} applied")


async def _redis(settings: Settings) -> Check:
    try:
        async with open_redis(settings, connect_timeout=2.0) as client:
            await client.ping()
    except StorageError as exc:
        return failed(
            "redis", str(exc), "Start Redis or fix REDIS_URL (unset: embedded); without it retries are slower."
        )
    return passed("redis", "reachable" if settings.redis_url else "embedded, reachable")


async def _platforms(settings: Settings, policy: Policy | None) -> tuple[list[Check], dict[str, dict[str, Resolution]]]:
    """The chat platforms' lines, and what each platform that answered says about the people the policy names."""
    people = people_named(policy, lead_group=settings.lead_group) if policy is not None else set()
    checks: list[Check] = []
    resolutions: dict[str, dict[str, Resolution]] = {}
    if not settings.slack_enabled and not settings.teams_enabled:
        checks.append(
            failed(
                "platforms",
                "neither Slack nor Teams is configured: customers cannot reach the bot, nor staff approve",
                "Set SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN), or MICROSOFT_APP_ID "
                "and its secret.",
            )
        )
    if settings.slack_bot_token is not None and not settings.slack_enabled:
        checks.append(
            failed(
                "slack.auth",
                "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN, so Slack is off",
                "Set SLACK_SIGNING_SECRET (events over HTTP) or SLACK_APP_TOKEN (Socket Mode).",
            )
        )
    if settings.slack_enabled:
        from bot.doctor_slack import SlackDoctor
        from bot.slack.app import make_client

        slack_checks, found = await SlackDoctor(settings, make_client(settings)).checks(people)
        checks += slack_checks
        if found is not None:
            resolutions["slack"] = found
    if settings.teams_enabled:
        from bot.doctor_teams import teams_checks

        teams_lines, found = await teams_checks(settings, people)
        checks += teams_lines
        if found is not None:
            resolutions["teams"] = found
    return checks, resolutions


async def _model(settings: Settings) -> Check:
    try:
        model = build_language_model(settings)
    except SettingsError as exc:
        return failed("llm", str(exc), "Set LLM_API_KEY, or LLM_BASE_URL for a local server, or unset LLM_MODEL.")
    if model is None:
        return passed("llm", "not configured: answers quote the knowledge base offline (LLM_MODEL unset)")
    try:
        supported = await probe_tools(model, seconds=PROBE_SECONDS)
        reason = model.tool_support.reason
    finally:
        await model.close()
    where = f"{model.name} at {model.base_url}"
    if supported is None:
        return failed(
            "llm",
            f"{where} did not answer a one-line request: {reason}",
            "Check LLM_BASE_URL, LLM_API_KEY and LLM_MODEL; until it answers every turn is answered offline.",
        )
    if not supported:
        return warned(
            "llm",
            f"{where} answers but does not call tools ({reason}): the offline router routes every message",
            "Use a model that supports tool calls if it should route messages; answers are drafted either way.",
        )
    return passed("llm", f"{where} answered and calls tools")


async def _embedder(pool: Pool, settings: Settings) -> Check:
    """The configured embedder (an endpoint answers its probe) against the stored vectors: name and size."""
    try:
        embedder = await build_embedder(settings)
    except (SettingsError, KnowledgeError) as exc:
        return failed("embedder", str(exc), "Fix the EMBEDDER / EMBEDDING_* settings so the embedder starts.")
    name, dimension = embedder.name, embedder.dimension
    await CachingEmbedder(embedder).close()  # the endpoint's client, if any
    store = KnowledgeStore(pool)
    stored = await store.embedding_space()
    if stored is None:
        return warned("embedder", f"{name} ({dimension}); nothing is embedded yet", "Ingest your help centre.")
    dims, unembedded = await store.stored_vectors()
    if stored != (name, dimension) or any(size != dimension for size in dims) or unembedded:
        found = f"stored: {stored[0]} ({', '.join(map(str, dims)) or stored[1]} dimensions)"
        missing = f", {unembedded} chunks without a vector" if unembedded else ""
        return failed(
            "embedder",
            f"configured {name} ({dimension} dimensions) does not match the vectors {found}{missing}",
            "Run `supportbot reindex` to embed every document with the configured embedder.",
        )
    return passed("embedder", f"{name} ({dimension} dimensions) made the stored vectors")


async def _executors(settings: Settings, pool: Pool, policy: Policy) -> Check:
    try:
        async with open_executors(settings, pool) as registry:
            actions = {a for w in policy.workflows.values() for a in (w.action, w.rollback) if a}
            return executor_check(
                policy, {action: registry.name_for(action) for action in actions}, demo_mode=settings.demo_backend
            )
    except SettingsError as exc:
        return failed("policy.executors", str(exc), "Fix the WEBHOOK_* settings and DEMO_BACKEND as the message says.")


async def _knowledge(pool: Pool, today: date) -> list[Check]:
    return knowledge_checks(await KnowledgeStore(pool).documents(), today=today)


async def _audit(pool: Pool, since: datetime) -> Check:
    return audit_trail_check(await executed_since(pool, since, risks=HIGH_IMPACT), days=AUDIT_DAYS)


def _digest(settings: Settings) -> list[str]:
    channels = []
    if settings.slack_enabled and (slack := settings.slack_digest_channel or settings.slack_staff_channel):
        channels.append(f"Slack {slack}")
    if settings.teams_enabled and (teams := settings.teams_digest_conversation or settings.teams_staff_conversation):
        channels.append(f"Teams {teams}")
    return channels
