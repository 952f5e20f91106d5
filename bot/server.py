"""The aiohttp server `supportbot run` serves: health and the knowledge search API."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from bot.services import Services
from bot.slack.app import SlackAdapter
from handlers.core import Core
from knowledge.models import SearchMode, SearchResult

log = logging.getLogger(__name__)

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
REDIS: web.AppKey[aioredis.Redis] = web.AppKey("redis", aioredis.Redis)
SLACK: web.AppKey[SlackAdapter | None] = web.AppKey("slack")


async def healthz(request: web.Request) -> web.Response:
    """200 when PostgreSQL, Redis (and Slack, when configured) answer; 503 with what is wrong otherwise."""
    checks: dict[str, str] = {}
    try:
        async with request.app[SERVICES].pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")
        checks["postgres"] = "ok"
    except Exception as exc:  # any failure is the answer to a health check
        checks["postgres"] = f"error: {exc}"
    try:
        await asyncio.wait_for(request.app[REDIS].ping(), 2)
        checks["redis"] = "ok"
    except Exception as exc:  # idem
        checks["redis"] = f"error: {exc}"
    slack = request.app[SLACK]
    if slack is not None:
        checks["slack"] = await slack.health()
    healthy = all(value == "ok" for value in checks.values())
    return web.json_response({"ok": healthy, "checks": checks}, status=200 if healthy else 503)


def _result(result: SearchResult) -> dict[str, Any]:
    return {
        "title": result.title,
        "heading_path": list(result.heading_path),
        "text": result.text,
        "source_url": result.source_url,
        "owner": result.owner,
        "doc_key": result.doc_key,
        "updated_at": result.updated_at.isoformat(),
        "freshness": result.freshness.value,
        "score": round(result.score, 4),
    }


async def search(request: web.Request) -> web.Response:
    question = request.query.get("q", "").strip()
    if not question:
        return web.json_response({"error": "query parameter q is required"}, status=400)
    if len(question) > 2000:
        return web.json_response({"error": "q is longer than 2000 characters"}, status=400)
    try:
        mode = SearchMode(request.query.get("mode", "hybrid"))
    except ValueError:
        return web.json_response({"error": "mode must be hybrid, dense or fts"}, status=400)
    org = request.query.get("org") or None
    results = await request.app[SERVICES].searcher.search(
        question, org=org.lower() if org else None, mode=mode, limit=5, per_document=2
    )
    return web.json_response({"question": question, "results": [_result(result) for result in results]})


def build_app(
    services: Services, redis: aioredis.Redis, *, slack: SlackAdapter | None = None, core: Core | None = None
) -> web.Application:
    """The server; Teams is mounted when configured, on `core` when given (else it builds its own)."""
    app = web.Application(client_max_size=1024**2)
    app[SERVICES] = services
    app[REDIS] = redis
    app[SLACK] = slack
    if slack is not None:
        slack.mount(app)
    if services.settings.teams_enabled:
        from bot.teams import mount_teams

        mount_teams(app, services, redis, core=core)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/search", search)
    return app
