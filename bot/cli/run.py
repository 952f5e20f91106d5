"""`supportbot run`: start the server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import redis.asyncio as aioredis
import typer
from aiohttp import web
from procrastinate import App
from rich.console import Console

from bot.cli.common import run_async, settings
from bot.core_factory import open_core
from bot.eval_job import eval_job_context
from bot.loop_watch import LoopWatch
from bot.metrics import MULTIPROC_ENV, use_multiprocess_dir
from bot.publishers import digest_job_context
from bot.queue.runtime import build_turn_worker, mount_worker, open_queue
from bot.server import build_app
from bot.services import Services, open_serving_services
from bot.settings import Settings, SettingsError
from bot.slack.app import SlackAdapter
from bot.storage import open_redis
from bot.telemetry import configure_tracing, shutdown_tracing
from bot.web.access import Access, require_token_for
from bot.web.front import PLATFORM as WEB
from bot.web.front import web_frontend
from handlers.core import Core
from handlers.decisions import DecisionStore
from handlers.explain.chain import DecisionExplainer
from handlers.turns import Frontend
from scheduler.jobs import JobContext
from scheduler.outbox import Outbox
from scheduler.runner import Scheduler, default_jobs
from scheduler.slots import SlotLedger

out = Console(stderr=True)
log = logging.getLogger(__name__)
STOP_MARGIN = 10.0  # seconds past SHUTDOWN_GRACE a worker's clean-up may take before it exits regardless
RESTART_PAUSE = 1.0  # before a crashed worker process is started again; doubles while it keeps crashing


def build_scheduler(services: Services) -> Scheduler:
    """Every job, the weekly digest included (its publishers are the configured chat platforms)."""
    context = digest_job_context(services, JobContext(services.escalation, services.store, Outbox(services.pool)))
    context = eval_job_context(services, context)
    zone = services.settings.zone
    jobs = default_jobs(
        zone, digest_schedule=services.settings.digest_schedule, eval_schedule=services.settings.eval_schedule
    )
    return Scheduler(jobs, context, SlotLedger(services.pool), zone=zone)


def observe(*, worker_processes: bool) -> None:
    """Traces as configured; counters in files the worker processes share, made before any metric exists."""
    if worker_processes or MULTIPROC_ENV in os.environ:
        use_multiprocess_dir(fresh=True)  # the worker processes inherit the folder
    configure_tracing()


@run_async
async def run(
    host: Annotated[str | None, typer.Option(help="Listen address (default: HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: PORT).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="`supportbot worker` processes to start beside the web server, at a lower CPU priority so acks "
            "never wait for turns (0: answer in this process, which slows acks under load).",
        ),
    ] = 1,
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
    access = Access.from_settings(config)
    require_token_for(address, access)
    observe(worker_processes=bool(workers and not no_workers))
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
        app = build_app(services, redis, slack=slack, core=core, console=access)
        in_process = not (no_workers or workers)
        if in_process:
            mount_worker(app, services, core, queue)
        # Everything long-lived (model, router, settings) exists now: keep it out of the collector, whose
        # full passes over it otherwise pause the event loop for ~0.5 s under load (bench/slack_ack.py).
        gc.freeze()
        watch = LoopWatch(warn_after_ms=config.loop_stall_warn_ms, name="web server event loop")
        watch.start()
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
            answering = "answers in this process" if in_process else f"{children.count} worker process(es)"
            out.print(
                f"supportbot listening on http://{address}:{number} ({answering}; "
                f"try /healthz or /api/search?q=how+do+I+return+an+item)",
                highlight=False,
            )
            # never wrapped: the address and the token are copied from here
            out.print(f"Playground: http://{address}:{number}/playground", highlight=False, soft_wrap=True)
            if access.generated_token:
                out.print(
                    f"Sign in with the token {access.generated_token} (set CONSOLE_TOKEN to choose your own)",
                    highlight=False,
                    soft_wrap=True,
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
            await watch.stop()
            shutdown_tracing()


@run_async
async def worker(
    parent: Annotated[int | None, typer.Option(hidden=True, help="Stop when this process is gone.")] = None,
) -> None:
    """Answer queued turns (Slack and Teams, as configured) without serving HTTP; run as many as you like, on
    as many machines, against one PostgreSQL. SIGTERM/SIGINT let running turns finish (up to SHUTDOWN_GRACE
    seconds) and leave the rest queued."""
    config = settings()
    # Before any thread starts (threads inherit it): the kernel then serves a web process's acks on this
    # machine before these turns, which can wait.
    os.nice(config.worker_nice)
    use_multiprocess_dir(fresh=False)  # counts into the folder of the `supportbot run` that started it, if any
    configure_tracing()
    stop = stop_on_signals()
    if parent is not None:
        watcher = asyncio.create_task(stop_when_orphaned(parent, stop))
    async with open_runtime(config) as (services, redis, core, queue):
        frontends: dict[str, Frontend] = {WEB: web_frontend(services.pool)}
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
        # bounded: with PostgreSQL gone mid-shutdown procrastinate's clean-up waits for it forever (an orphaned
        # worker was seen doing so for minutes); its running turns run again after TURN_LEASE elsewhere
        done, _ = await asyncio.wait({task}, timeout=config.shutdown_grace + STOP_MARGIN)
        if not done:
            out.print(
                f"supportbot worker: could not stop cleanly within {config.shutdown_grace + STOP_MARGIN:g} s "
                "(is PostgreSQL reachable?); exiting anyway",
                highlight=False,
            )
            logging.shutdown()
            os._exit(1)  # the loop's own teardown would wait for the same clean-up
        with contextlib.suppress(asyncio.CancelledError):
            await task
    shutdown_tracing()
    if parent is not None:
        watcher.cancel()


async def stop_when_orphaned(parent: int, stop: asyncio.Event) -> None:
    """A `supportbot run` killed with -9 cannot stop its workers: they notice and stop gracefully."""
    while os.getppid() == parent:  # noqa: ASYNC110 - nothing signals a parent's death portably; polling does
        await asyncio.sleep(0.5)
    out.print("supportbot worker: the `supportbot run` that started it is gone; stopping", highlight=False)
    stop.set()


@asynccontextmanager
async def open_runtime(config: Settings) -> AsyncIterator[tuple[Services, aioredis.Redis, Core, App]]:
    """Everything a web or worker process holds open: storage, the core (with its model) and the turn queue.
    Refuses to start when a policy action has nothing to run it."""
    async with (
        open_serving_services(config) as services,
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
        explain=DecisionExplainer(DecisionStore(services.pool), services.escalation).explain,
    )


def stop_on_signals() -> asyncio.Event:
    """SIGTERM (every deploy) and SIGINT (Ctrl-C) ask for a graceful stop instead of killing the process."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    return stop


class WorkerProcesses:
    """`supportbot run --workers N`: N `supportbot worker` children (at WORKER_NICE lower priority), started
    again if one dies, stopped with SIGTERM like their parent; they stop by themselves if it is killed."""

    def __init__(self, count: int, *, grace: float) -> None:
        self.count = count
        self._grace = grace
        self._children: dict[int, asyncio.subprocess.Process] = {}
        self._keepers: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        self._keepers = [asyncio.create_task(self._keep(number)) for number in range(self.count)]

    async def _keep(self, number: int) -> None:
        pause = RESTART_PAUSE
        while not self._stopping:
            started = time.monotonic()
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-c", "from bot.cli import main; main()", "worker", "--parent", str(os.getpid())
            )
            self._children[number] = child
            code = await child.wait()
            if self._stopping:
                return
            pause = RESTART_PAUSE if time.monotonic() - started > 60 else min(pause * 2, 30.0)
            log.error("worker process %d exited with %s; starting another in %.0f s", child.pid, code, pause)
            await asyncio.sleep(pause)

    async def stop(self) -> None:
        self._stopping = True
        children = [child for child in self._children.values() if child.returncode is None]
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                await asyncio.wait_for(child.wait(), self._grace + STOP_MARGIN + 5)
            except TimeoutError:
                child.kill()
                await child.wait()
        for keeper in self._keepers:
            keeper.cancel()
        await asyncio.gather(*self._keepers, return_exceptions=True)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("worker")(worker)
