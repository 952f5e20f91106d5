"""The aiohttp server `supportbot run` serves: health and the knowledge search API."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from aiohttp import web

from bot.metrics import exposition
from bot.model_health import judge, recent_calls
from bot.providers.openai.chat import OpenAIChatModel
from bot.queue_health import queue_health
from bot.services import Services
from bot.slack.app import SlackAdapter
from bot.web.access import Access
from handlers.core import Core
from knowledge.models import SearchMode, SearchResult
from knowledge.store import Pool

log = logging.getLogger(__name__)

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
REDIS: web.AppKey[aioredis.Redis] = web.AppKey("redis", aioredis.Redis)
SLACK: web.AppKey[SlackAdapter | None] = web.AppKey("slack")
CORE: web.AppKey[Core | None] = web.AppKey("core")


HEALTH_TIMEOUT = 2.0
"""Seconds one check may take: a frozen PostgreSQL once answered "ok" after 10 s, later than any probe waits."""

_REDIS_FALLBACK = "de-duplication falls back to PostgreSQL"
_T = TypeVar("_T")
_abandoned: set[asyncio.Future[Any]] = set()


class CheckTimedOut(Exception):
    """A health check did not finish in `HEALTH_TIMEOUT` seconds."""


async def _within(check: Awaitable[_T], seconds: float = HEALTH_TIMEOUT) -> _T:
    """`check`'s result, or `CheckTimedOut` after `seconds`.

    Unlike `asyncio.wait_for`, this does not wait for the cancelled check to wind down: psycopg, cancelled
    mid-query, asks the server to cancel and then waits up to 5 s more, so with a stopped backend
    `wait_for(..., 2)` answered after 7 s. The abandoned check ends on its own and returns its connection.
    """
    task = asyncio.ensure_future(check)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if done:
        return task.result()
    task.cancel()
    _abandoned.add(task)  # a reference until it ends, or the loop may collect it mid-way
    task.add_done_callback(_forget)
    raise CheckTimedOut(f"timed out after {seconds:g} s")


def _forget(task: asyncio.Future[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.debug("an abandoned health check ended with %r", task.exception())


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _describe(exc: BaseException) -> str:
    return _first_line(str(exc)) or type(exc).__name__


async def _ping(pool: Pool) -> None:
    async with pool.connection() as conn:
        await conn.execute("SELECT 1")


_Check = tuple[str, Any, list[str]]
"""(name, what /healthz shows for it, problems found)."""


async def _postgres(pool: Pool) -> _Check:
    try:
        await _within(_ping(pool))
    except Exception as exc:  # any failure is the answer to a health check
        return "postgres", f"error: {_describe(exc)}", [f"PostgreSQL: {_describe(exc)}"]
    return "postgres", "ok", []


async def _queue(services: Services) -> _Check:
    try:
        queue = await _within(queue_health(services.pool))
    except Exception as exc:  # idem; turns may still be running, so this degrades rather than downs
        return "queue", f"error: {_describe(exc)}", [f"queue: could not be read ({_describe(exc)})"]
    # /healthz is reachable by anyone who can reach /slack/events: one line of the error, not a traceback
    last_error = _first_line(queue.last_error)[:200] if queue.last_error else None
    shown = {
        "waiting": queue.waiting,
        "oldest_waiting_seconds": round(queue.oldest_waiting_seconds, 1),
        "failing": queue.failing,
        "last_error": last_error,
    }
    problems = []
    limit = services.settings.health_max_queue_age
    if queue.oldest_waiting_seconds > limit:
        problems.append(
            f"queue: the oldest of {queue.waiting} waiting turns has waited "
            f"{queue.oldest_waiting_seconds:.0f} s (HEALTH_MAX_QUEUE_AGE is {limit:g} s)"
        )
    if queue.failing:
        problems.append(f"queue: {queue.failing} waiting turns failed more than once (last error: {last_error})")
    return "queue", shown, problems


async def _database(services: Services) -> list[_Check]:
    """PostgreSQL and the turn queue in it, side by side; the queue says nothing when PostgreSQL fails."""
    postgres, queue = await asyncio.gather(_postgres(services.pool), _queue(services))
    if postgres[1] != "ok":
        return [postgres, ("queue", "unknown: PostgreSQL did not answer", [])]
    return [postgres, queue]


async def _redis(redis: aioredis.Redis) -> list[_Check]:
    try:
        await _within(redis.ping())
    except Exception as exc:  # idem; without Redis the bot keeps answering
        return [("redis", f"degraded: {_describe(exc)} ({_REDIS_FALLBACK})", [f"Redis: {_describe(exc)}"])]
    return [("redis", "ok", [])]


async def _slack(slack: SlackAdapter | None) -> list[_Check]:
    if slack is None:
        return []
    try:
        status = await _within(slack.health())
    except CheckTimedOut as exc:  # health() answers every other failure itself
        status = f"error: {exc}"
    return [("slack", status, [] if status == "ok" else [f"Slack: {status}"])]


async def _model(services: Services, core: Core | None) -> list[_Check]:
    model = core.language_model if core is not None else None
    if not isinstance(model, OpenAIChatModel):
        return []  # no model configured: the offline answerer needs no endpoint
    try:
        calls = await _within(recent_calls(services.pool))
    except Exception:  # PostgreSQL's own check says why; this process's view still tells something
        calls = []
    status = judge(calls, model.health())
    return [("model", status.shown(), status.problems())]


async def healthz(request: web.Request) -> web.Response:
    """All checks at once, each within `HEALTH_TIMEOUT` seconds. "down" (503) when PostgreSQL or Slack fails;
    "degraded" (200) while customers are still answered: Redis down, turns waiting longer than
    `HEALTH_MAX_QUEUE_AGE` or failing again and again, or the model endpoint failing (turns answer offline);
    "ok" otherwise. `problems` says why, a line each."""
    found = await asyncio.gather(
        _database(request.app[SERVICES]),
        _redis(request.app[REDIS]),
        _slack(request.app[SLACK]),
        _model(request.app[SERVICES], request.app[CORE]),
    )
    results = [check for group in found for check in group]
    checks = {name: shown for name, shown, _ in results}
    problems = [problem for _, _, listed in results for problem in listed]
    down = checks["postgres"] != "ok" or checks.get("slack", "ok") != "ok"
    status = "down" if down else "degraded" if problems else "ok"
    body = {"ok": not down, "status": status, "checks": checks, "problems": problems}
    return web.json_response(body, status=503 if down else 200)


async def metrics_endpoint(request: web.Request) -> web.Response:
    """Prometheus's text format (bot/metrics.py); with METRICS_TOKEN set, only for `Authorization: Bearer <it>`."""
    token = request.app[SERVICES].settings.metrics_token
    if token is not None:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            return web.json_response({"error": "a valid bearer token is required"}, status=401)
    body = await exposition(request.app[SERVICES].pool)
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


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
    services: Services,
    redis: aioredis.Redis,
    *,
    slack: SlackAdapter | None = None,
    core: Core | None = None,
    console: Access | None = None,
) -> web.Application:
    """The server; Teams is mounted when configured, on `core` when given (else it builds its own); the web
    console and playground when `console` says who may sign in."""
    app = web.Application(client_max_size=1024**2)
    app[SERVICES] = services
    app[REDIS] = redis
    app[SLACK] = slack
    app[CORE] = core
    if slack is not None:
        slack.mount(app)
    if services.settings.teams_enabled:
        from bot.teams import mount_teams

        mount_teams(app, services, redis, core=core)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_endpoint)
    app.router.add_get("/api/search", search)
    if console is not None:
        from bot.web.app import mount_web

        mount_web(app, services, console, redis=redis, core=core)
    return app
