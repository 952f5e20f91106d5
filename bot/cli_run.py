"""`supportbot run`: start the server."""

from __future__ import annotations

import asyncio
import gc
from typing import Annotated

import typer
from aiohttp import web
from rich.console import Console

from bot.cli import run_async, settings
from bot.cli_explain import explain_decision
from bot.core_factory import open_core
from bot.publishers import digest_job_context
from bot.server import build_app
from bot.services import Services, open_services
from bot.settings import SettingsError
from bot.slack.app import SlackAdapter
from bot.storage import open_redis
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
) -> None:
    """Serve Slack (HTTP events or Socket Mode), health checks and the search API, and run the scheduled jobs."""
    config = settings()
    if config.slack_bot_token is not None and not config.slack_enabled:
        raise SettingsError(
            "SLACK_BOT_TOKEN needs SLACK_SIGNING_SECRET (events over HTTP) or SLACK_APP_TOKEN (Socket Mode)"
        )
    address, number = host or config.host, port or config.port
    async with open_services(config) as services, open_redis(config) as redis, open_core(services) as core:
        # approvals a crashed process left approved or half-executed are finished once, now
        await services.escalation.recover()
        scheduler = build_scheduler(services)
        caught_up = await scheduler.catch_up()
        if caught_up:
            out.print(f"caught up {len(caught_up)} missed job slot(s)", highlight=False)
        scheduler.start()
        slack = None
        if config.slack_enabled:
            slack = SlackAdapter(
                settings=config,
                core=core,
                escalation=services.escalation,
                pool=services.pool,
                redis=redis,
                explain=lambda decision_id: explain_decision(services, decision_id),
            )
        # Everything long-lived (model, router, settings) exists now: keep it out of the collector, whose
        # full passes over it otherwise pause the event loop for ~0.5 s under load (bench/slack_ack.py).
        gc.freeze()
        runner = web.AppRunner(build_app(services, redis, slack=slack, core=core))
        await runner.setup()
        try:
            await web.TCPSite(runner, address, number).start()
        except OSError as exc:
            raise ValueError(f"cannot listen on {address}:{number} ({exc.strerror}); choose another --port") from None
        out.print(
            f"supportbot listening on http://{address}:{number}  "
            f"(try /healthz or /api/search?q=how+do+I+return+an+item)",
            highlight=False,
        )
        if slack is not None:
            mode = "Socket Mode" if slack.socket_mode else f"events at http://{address}:{number}/slack/events"
            out.print(f"Slack: {mode}", highlight=False)
        try:
            await asyncio.Event().wait()
        finally:
            scheduler.shutdown()
            await runner.cleanup()


def register(app: typer.Typer) -> None:
    app.command("run")(run)
