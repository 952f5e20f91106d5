"""Scenario evaluation on a throw-away database: created on the configured PostgreSQL server (embedded or yours),
migrated, given the demo back end (never your webhook: a scenario must not refund a real customer) and the
knowledge, then kept, so `supportbot explain DECISION --database NAME` tells the story of any failure. The newest
few are kept; older ones are dropped when a new one is made."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr

from bot.core_factory import build_core
from bot.demo.backend import DemoBackend
from bot.services import Services, open_services
from bot.settings import Settings
from bot.storage import StorageError, database_url
from escalation.service import Escalation
from handlers.conversations import ConversationStore
from handlers.decisions import DecisionStore
from handlers.eval_history import OFFLINE, Fingerprint, current_fingerprint
from handlers.llm import LanguageModel
from handlers.scenario_load import LoadedScenario
from handlers.scenario_model import CustomerStep
from handlers.scenario_report import ModeSummary, summarise
from handlers.scenario_run import ScenarioClock, ScenarioResult, ScenarioRunner, ScenarioWorld
from knowledge.embedder import CachingEmbedder, Embedder
from knowledge.ingest import IngestOptions, IngestSummary
from knowledge.sources import KnowledgeSources, Source

log = logging.getLogger(__name__)
PREFIX = "supportbot_scenarios_"
KEEP = 5


def settings_for_database(settings: Settings, name: str) -> Settings:
    """The same settings on another database of the same server (a scenario run's)."""
    return settings.model_copy(update={"database_url": SecretStr(make_conninfo(database_url(settings), dbname=name))})


async def create_database(settings: Settings, *, keep: int = KEEP) -> str:
    """A new empty database on the configured server; the oldest scenario databases beyond `keep` go."""
    name = f"{PREFIX}{datetime.now(UTC):%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}"
    try:
        async with await psycopg.AsyncConnection.connect(database_url(settings), autocommit=True) as conn:
            await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            rows = await (
                await conn.execute(
                    "SELECT datname FROM pg_database WHERE starts_with(datname, %s) ORDER BY datname DESC", (PREFIX,)
                )
            ).fetchall()
            for (old,) in rows[keep:]:
                await conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(old)))
    except psycopg.errors.InsufficientPrivilege:
        raise StorageError(
            "Scenario runs need a database of their own and this PostgreSQL user may not create one: "
            "grant it CREATEDB (ALTER ROLE … CREATEDB) or unset DATABASE_URL to use the embedded server."
        ) from None
    return name


@asynccontextmanager
async def scenario_services(settings: Settings, *, embedder: Embedder) -> AsyncIterator[tuple[Services, str]]:
    """Services on a fresh throw-away database, acting on the demo back end only."""
    name = await create_database(settings)
    isolated = settings_for_database(settings, name).model_copy(
        update={"demo_backend": True, "webhook_url": None, "webhook_actions": ""}
    )
    async with open_services(isolated, embedder=embedder) as services:
        yield services, name


async def load_knowledge(services: Services, sources: list[Source]) -> IngestSummary:
    total = IngestSummary()
    for source in sources:
        summary = await services.ingestor.ingest(
            [source.root], IngestOptions(org=source.org, review_every=services.settings.review_interval)
        )
        total.added += summary.added
        total.skipped += summary.skipped
        total.failed += summary.failed
    return total


async def scenario_world(services: Services, *, language_model: LanguageModel | None = None) -> ScenarioWorld:
    """The real core on `services`, with an escalation whose clock the scenarios move (expiry, daily limits)."""
    clock = ScenarioClock()
    ours = services.escalation
    escalation = Escalation(services.pool, ours.policy, ours.executors, lease=services.settings.lease, clock=clock)
    core = await build_core(replace(services, escalation=escalation), language_model=language_model)
    return ScenarioWorld(
        core=core,
        escalation=escalation,
        decisions=DecisionStore(services.pool),
        conversations=ConversationStore(services.pool),
        demo=DemoBackend(services.pool),
        clock=clock,
    )


async def warm_embeddings(services: Services, scenarios: list[LoadedScenario]) -> None:
    """Every customer message of the run embedded in one batch up front: the turns then find their vectors
    cached instead of calling the model once each (on a busy machine most of a run's time)."""
    if isinstance(services.embedder, CachingEmbedder):
        texts = [
            " ".join(step.customer.split())
            for loaded in scenarios
            for step in loaded.scenario.turns
            if isinstance(step, CustomerStep)
        ]
        await services.embedder.warm(texts)


@dataclass(frozen=True)
class ModeRun:
    summary: ModeSummary
    fingerprint: Fingerprint


async def run_modes(
    services: Services,
    scenarios: list[LoadedScenario],
    *,
    runs: int = 1,
    model: LanguageModel | None = None,
    on_result: Callable[[ScenarioResult], None] | None = None,
) -> list[ModeRun]:
    """Every scenario `runs` times offline, then (with a model) `runs` times with the model."""
    modes: list[tuple[str, LanguageModel | None]] = [(OFFLINE, None)]
    if model is not None:
        modes.append((model.name, model))
    done = []
    await warm_embeddings(services, scenarios)
    for mode, language_model in modes:
        world = await scenario_world(services, language_model=language_model)
        runner = ScenarioRunner(world, label=uuid.uuid4().hex[:6])
        started = time.perf_counter()
        attempts: list[list[ScenarioResult]] = [[] for _ in scenarios]
        for attempt in range(1, runs + 1):
            for position, loaded in enumerate(scenarios):
                result = await runner.run(loaded, attempt=attempt)
                attempts[position].append(result)
                if on_result:
                    on_result(result)
        summary = summarise(mode, attempts, seconds=time.perf_counter() - started)
        fingerprint = await current_fingerprint(
            services.escalation.policy,
            KnowledgeSources(services.pool),
            model=language_model.name if language_model else None,
        )
        done.append(ModeRun(summary, fingerprint))
    return done
