"""`supportbot run`: start the server."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from aiohttp import web
from rich.console import Console

from bot.cli import run_async, settings
from bot.server import build_app
from bot.services import open_services
from bot.storage import open_redis

out = Console(stderr=True)


@run_async
async def run(
    host: Annotated[str | None, typer.Option(help="Listen address (default: HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: PORT).")] = None,
) -> None:
    """Serve health checks and the knowledge search API until interrupted."""
    config = settings()
    address, number = host or config.host, port or config.port
    async with open_services(config) as services, open_redis(config) as redis:
        # approvals a crashed process left approved or half-executed are finished once, now
        await services.escalation.recover()
        runner = web.AppRunner(build_app(services, redis))
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
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


def register(app: typer.Typer) -> None:
    app.command("run")(run)
