"""`supportbot run`: start the server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import redis.asyncio as aioredis
import typer
from aiohttp import web
from procrastinate import App
from rich.console import Console

from bot.cli import run_async, settings
from bot.cli_explain import explain_decision
from bot.core_factory import open_core
from bot.publishers import digest_job_context
from bot.queue.runtime import build_turn_worker, mount_worker, open_queue
from bot.server import build_app
from bot.services import Services, open_services
from bot.settings import Settings, SettingsError
from bot.slack.app import SlackAdapter
from bot.storage import open_redis
from handlers.core import Core
from handlers.turns import Frontend
from scheduler.jobs import JobContext
from scheduler.outbox import Outbox
from scheduler.runner import Scheduler, default_jobs
from scheduler.slots import SlotLedger

out = Console(stderr=True)


def build_scheduler(services: Services) -> Scheduler:
    """Every job, the weekly digest included (its publishers are the configured chat platforms)."""
    context = digest_job_context(services, JobContext(services.escalation, services.store, Outbox(services.pool)))
    zone = services.settings.zone
    jobs = default_jobs(zone, digest_schedule=services.settings.digest_schedule)
    return Scheduler(jobs, context, SlotLedger(services.pool), zone=zone)


@run_async
async def run(
    host: Annotated[str | None, typer.Option(help="Listen address (default: HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: PORT).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Start this many `supportbot worker` processes beside the web server instead of "
            "answering in this process (0: answer here).",
        ),
    ] = 0,
    no_workers: Annotated[
        bool, typer.Option("--no-workers", help="Only accept and store events; `supportbot worker` answers them.")
    ] = False,
) -> None:
    """Serve Slack (HTTP events or Socket Mode) and Teams, health checks and the search API; answer queued
    turns; run the scheduled jobs. SIGTERM/SIGINT stop taking requests, let running turns finish (up to
    SHUTDOWN_GRACE seconds) and leave the rest queued for the next process."""
    config = settings()
    if config.slack_bot_token is not None and not config.slack_enabled:
        raise SettingsError(
            "SLACK_BOT_TOKEN needs SLACK_SIGNING_SECRET (events over HTTP) or SLACK_APP_TOKEN (Socket Mode)"
        )
    address, number = host or config.host, port or config.port
    stop = stop_on_signals()
    async with open_runtime(config) as (services, redis, core, queue):
        # approvals a crashed process left approved or half-executed are finished once, now
        await services.escalation.recover()
        scheduler = build_scheduler(services)
        caught_up = await scheduler.catch_up()
        if caught_up:
            out.print(f"caught up {len(caught_up)} missed job slot(s)", highlight=False)
        scheduler.start()
        slack = build_slack(services, redis, core)
        app = build_app(services, redis, slack=slack, core=core)
        if not (no_workers or workers):
            mount_worker(app, services, core, queue)
        # Everything long-lived (model, router, settings) exists now: keep it out of the collector, whose
        # full passes over it otherwise pause the event loop for ~0.5 s under load (bench/slack_ack.py).
        gc.freeze()
        runner = web.AppRunner(app, shutdown_timeout=5.0)
        await runner.setup()
        children = WorkerProcesses(0 if no_workers else workers, grace=config.shutdown_grace)
        try:
            try:
                await web.TCPSite(runner, address, number).start()
            except OSError as exc:
                raise ValueError(
                    f"cannot listen on {address}:{number} ({exc.strerror}); choose another --port"
                ) from None
            await children.start()
            answering = "answers in this process" if not (no_workers or workers) else f"{children.count} worker(s)"
            out.print(
                f"supportbot listening on http://{address}:{number} ({answering}; "
                f"try /healthz or /api/search?q=how+do+I+return+an+item)",
                highlight=False,
            )
            if slack is not None:
                mode = "Socket Mode" if slack.socket_mode else f"events at http://{address}:{number}/slack/events"
                out.print(f"Slack: {mode}", highlight=False)
            await stop.wait()
            out.print("stopping: no new requests; running turns get to finish, the rest stay queued", highlight=False)
        finally:
            scheduler.shutdown()
            await runner.cleanup()  # stops listening first, then the in-process worker (gracefully)
            await children.stop()


@run_async
async def worker() -> None:
    """Answer queued turns (Slack and Teams, as configured) without serving HTTP; run as many as you like, on
    as many machines, against one PostgreSQL. SIGTERM/SIGINT let running turns finish (up to SHUTDOWN_GRACE
    seconds) and leave the rest queued."""
    config = settings()
    stop = stop_on_signals()
    async with open_runtime(config) as (services, redis, core, queue):
        frontends: dict[str, Frontend] = {}
        slack = build_slack(services, redis, core)
        if slack is not None:
            frontends["slack"] = slack.messages
        if config.teams_enabled:
            from bot.teams.app import build_runtime

            frontends["teams"] = build_runtime(services, redis, core).bot
        gc.freeze()
        task = asyncio.create_task(build_turn_worker(services, core, queue, frontends).run())
        out.print(f"supportbot worker answering {', '.join(frontends) or 'nothing (no platform configured)'}")
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def open_runtime(config: Settings) -> AsyncIterator[tuple[Services, aioredis.Redis, Core, App]]:
    """Everything a web or worker process holds open: storage, the core (with its model) and the turn queue."""
    async with (
        open_services(config) as services,
        open_redis(config) as redis,
        open_core(services) as core,
        open_queue(config) as queue,
    ):
        yield services, redis, core, queue


def build_slack(services: Services, redis: aioredis.Redis, core: Core) -> SlackAdapter | None:
    if not services.settings.slack_enabled:
        return None
    return SlackAdapter(
        settings=services.settings,
        core=core,
        escalation=services.escalation,
        pool=services.pool,
        redis=redis,
        explain=lambda decision_id: explain_decision(services, decision_id),
    )


def stop_on_signals() -> asyncio.Event:
    """SIGTERM (every deploy) and SIGINT (Ctrl-C) ask for a graceful stop instead of killing the process."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    return stop


class WorkerProcesses:
    """`supportbot run --workers N`: N `supportbot worker` children, stopped with SIGTERM like their parent."""

    def __init__(self, count: int, *, grace: float) -> None:
        self.count = count
        self._grace = grace
        self._children: list[asyncio.subprocess.Process] = []

    async def start(self) -> None:
        for _ in range(self.count):
            self._children.append(
                await asyncio.create_subprocess_exec(sys.executable, "-c", "from bot.cli import main; main()", "worker")
            )

    async def stop(self) -> None:
        for child in self._children:
            if child.returncode is None:
                child.send_signal(signal.SIGTERM)
        for child in self._children:
            try:
                await asyncio.wait_for(child.wait(), self._grace + 10)
            except TimeoutError:
                child.kill()
                await child.wait()


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("worker")(worker)
