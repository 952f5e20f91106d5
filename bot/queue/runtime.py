"""Wiring the turn queue: its procrastinate app, and a worker over whichever platforms this process serves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from procrastinate import App

from bot.channels import ChannelStore
from bot.queue.jobs import build_queue
from bot.queue.store import InboundStore
from bot.queue.worker import TurnWorker, WorkerConfig
from bot.services import Services
from bot.settings import Settings
from bot.storage import database_url
from handlers.core import Core
from handlers.turns import Frontend, TurnRunner

log = logging.getLogger(__name__)


@dataclass
class WorkerSlot:
    """Filled at start-up (the app is frozen by then)."""

    worker: TurnWorker | None = None
    task: asyncio.Task[None] | None = None


WORKER: web.AppKey[WorkerSlot] = web.AppKey("turn-worker", WorkerSlot)


@asynccontextmanager
async def open_queue(settings: Settings) -> AsyncIterator[App]:
    queue = build_queue(database_url(settings))
    async with queue.open_async():
        yield queue


def worker_config(settings: Settings) -> WorkerConfig:
    return WorkerConfig(
        # a turn holds a connection while it runs: leave some for clicks, the drains and health checks
        concurrency=max(1, min(settings.turn_concurrency, settings.db_pool_max - 2)),
        grace=settings.shutdown_grace,
        lease=settings.turn_lease,
        heartbeat=max(0.5, settings.turn_lease / 6),
        queue=settings.turn_queue,
        retention_days=settings.inbound_retention_days,
    )


def build_turn_worker(
    services: Services, core: Core, queue: App, frontends: Mapping[str, Frontend], *, config: WorkerConfig | None = None
) -> TurnWorker:
    chosen = config or worker_config(services.settings)
    store = InboundStore(services.pool, queue=chosen.queue)
    runner = TurnRunner(
        core, store, frontends, once=ChannelStore(services.pool), timeout=services.settings.turn_timeout
    )
    return TurnWorker(queue, runner, store, chosen)


def app_frontends(app: web.Application) -> dict[str, Frontend]:
    """The platforms mounted on this app (their adapters are built by the time the app starts); the web
    playground's always (it needs no credentials)."""
    from bot.server import SERVICES, SLACK
    from bot.web.front import PLATFORM, web_frontend

    frontends: dict[str, Frontend] = {PLATFORM: web_frontend(app[SERVICES].pool)}
    slack = app.get(SLACK)
    if slack is not None:
        frontends["slack"] = slack.messages
    from bot.teams.app import TEAMS

    slot = app.get(TEAMS)
    if slot is not None and slot.runtime is not None:
        frontends["teams"] = slot.runtime.bot
    return frontends


def mount_worker(
    app: web.Application, services: Services, core: Core, queue: App, *, config: WorkerConfig | None = None
) -> None:
    """Run turns in this web process too (`supportbot run` without `--no-workers`, and tests). Register it
    after the platforms: it starts once they have, and stops (gracefully) when the app shuts down, after
    the listener has stopped taking requests."""

    slot = app[WORKER] = WorkerSlot()

    async def start(app: web.Application) -> None:
        slot.worker = build_turn_worker(services, core, queue, app_frontends(app), config=config)
        slot.task = asyncio.create_task(slot.worker.run(), name="turn worker")

    async def stop(app: web.Application) -> None:
        task, slot.task = slot.task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
