"""`supportbot demo`: a few hundred scripted conversations of the sample company through the real core, dated
over the last weeks, so the digest and the console show real figures on a fresh install; and their removal."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core_factory import build_core
from bot.demo.backend import DemoBackend
from bot.demo.player import DemoPlayer, OutageRouting, PlayStats, ScriptClock
from bot.demo.script import plan, said
from bot.demo.store import DemoCounts, DemoRows
from bot.services import Services
from escalation.executors import ExecutorRegistry
from escalation.service import Escalation
from knowledge.embedder import CachingEmbedder

EMPTY_KNOWLEDGE = (
    "the knowledge base is empty: load the sample help centre first "
    "(`supportbot ingest examples/acme --review-every 180d`; `make run` does it)"
)


@dataclass(frozen=True)
class DemoOptions:
    weeks: int = 8
    per_week: int = 40
    seed: int = 7

    def __post_init__(self) -> None:
        if not 1 <= self.weeks <= 52:
            raise ValueError("--weeks must be between 1 and 52")
        if not 1 <= self.per_week <= 1000:
            raise ValueError("--per-week must be between 1 and 1000")


@dataclass(frozen=True)
class DemoReport:
    planned: int
    stats: PlayStats
    seconds: float
    counts: DemoCounts
    replaced: DemoCounts  # the demo rows an earlier run had left, removed first

    @property
    def per_second(self) -> float:
        return self.stats.conversations / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Cleared:
    counts: DemoCounts
    refunds: int  # refunds of the demo's conversations removed from the demo back end


async def clear_demo(services: Services) -> Cleared:
    """Remove every demo row, and the refunds the demo's approvals ran in the demo back end; nothing else."""
    counts, keys = await DemoRows(services.pool).clear()
    refunds = await DemoBackend(services.pool).forget_refunds(keys) if keys else 0
    return Cleared(counts, refunds)


async def play_demo(
    services: Services,
    options: DemoOptions,
    *,
    now: datetime | None = None,
    on_plan: Callable[[int], None] | None = None,
    on_conversation: Callable[[], None] | None = None,
) -> DemoReport:
    """Replace any earlier demo data with a fresh run. Offline: the configured model is never called, and the
    actions go to the demo back end whatever executors are configured, so no real customer is ever touched."""
    if not await services.store.documents():
        raise ValueError(EMPTY_KNOWLEDGE)
    moment = now or datetime.now(UTC)
    replaced = (await clear_demo(services)).counts
    backend = DemoBackend(services.pool)
    await backend.ensure_seeded()
    routing = OutageRouting(backend)
    registry = ExecutorRegistry()
    registry.register(routing)
    clock = ScriptClock()
    escalation = Escalation(
        services.pool, services.escalation.policy, registry, lease=services.settings.lease, clock=clock
    )
    demo_services = dataclasses.replace(
        services, escalation=escalation, settings=services.settings.model_copy(update={"demo_backend": True})
    )
    rows = DemoRows(services.pool)
    try:
        core = await build_core(demo_services)
        player = DemoPlayer(core, escalation, rows, clock, routing, now=moment)
        conversations = plan(now=moment, weeks=options.weeks, per_week=options.per_week, seed=options.seed)
        if isinstance(services.embedder, CachingEmbedder):  # every message's vector in a few batches, not one by one
            await services.embedder.warm(said(conversations))
        if on_plan:
            on_plan(len(conversations))
        started = time.perf_counter()
        for conversation in conversations:
            await player.play(conversation)
            if on_conversation:
                on_conversation()
        seconds = time.perf_counter() - started
    finally:
        await routing.close()
    return DemoReport(len(conversations), player.stats, seconds, await rows.counts(), replaced)
