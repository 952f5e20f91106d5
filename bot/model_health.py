"""How the model endpoint is doing, for `/healthz`: ok, failing, or circuit open since when.

The turns are answered by worker processes, each with its own circuit breaker, so the web process's own
breaker would say "ok" while every worker skips the model. What the turns saw is in their decision records
(`decisions.model_calls`, shared by every process): the newest calls of the last few minutes decide, unless
this process heard from the endpoint more recently (its start-up probe is a call too). Whether the model
calls tools is this process's verdict (the probe, or replies seen).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from handlers.llm import CallOutcome
from handlers.llm_health import CircuitState, ModelHealth
from knowledge.store import Pool

WINDOW_SECONDS = 600  # calls older than this say nothing about the endpoint now
_FAILED = frozenset({CallOutcome.FAILED, CallOutcome.UNAVAILABLE, CallOutcome.TIMEOUT})

# the newest turns that called the model (served by `decisions_created`), newest call first
_RECENT_CALLS: LiteralString = """
    SELECT d.created_at, c.value ->> 'outcome', c.value ->> 'detail'
    FROM (SELECT id, created_at, model_calls FROM decisions
          WHERE created_at > clock_timestamp() - make_interval(secs => %(window)s) AND model_calls <> '[]'::jsonb
          ORDER BY created_at DESC, id DESC LIMIT 20) d
    CROSS JOIN LATERAL jsonb_array_elements(d.model_calls) WITH ORDINALITY AS c(value, n)
    ORDER BY d.created_at DESC, d.id DESC, c.n DESC
"""


@dataclass(frozen=True)
class RecentCall:
    at: datetime  # when its turn was recorded
    outcome: str
    detail: str | None


@dataclass(frozen=True)
class ModelStatus:
    status: str  # "ok", "failing" or "circuit open since <ISO time>"
    consecutive_failures: int
    last_error: str | None
    tools_supported: bool | None
    tools_note: str | None
    seen_in: str  # "recent turns" or "this process"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def shown(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "tools_supported": self.tools_supported,
            "tools": self.tools_note,
            "seen_in": self.seen_in,
        }

    def problems(self) -> list[str]:
        if self.ok:
            return []
        last = f" (last error: {self.last_error})" if self.last_error else ""
        return [f"model: {self.status}, {self.consecutive_failures} failures in a row{last}; turns answer without it"]


async def recent_calls(pool: Pool, *, window: float = WINDOW_SECONDS) -> list[RecentCall]:
    async with pool.connection() as conn:
        rows = await (await conn.execute(_RECENT_CALLS, {"window": window})).fetchall()
    return [RecentCall(at, outcome or "", detail) for at, outcome, detail in rows]


def judge(calls: list[RecentCall], local: ModelHealth) -> ModelStatus:
    """The newest evidence decides: recorded calls (newest first: a run of skipped calls is an open circuit, a
    run of failures is failing), or this process's breaker when it heard from the endpoint since."""
    tools = (local.supports_tools, local.tools_reason)
    heard = local.breaker.last_verdict_at
    if not calls or (heard is not None and heard > calls[0].at):
        return _from_breaker(local, tools)
    failures = [call for call in calls if call.outcome != CallOutcome.SKIPPED]
    streak = 0
    for call in failures:
        if call.outcome not in _FAILED:
            break
        streak += 1
    last_error = failures[0].detail if streak else None
    if calls[0].outcome == CallOutcome.SKIPPED:
        skipping = _leading(calls, CallOutcome.SKIPPED)
        since = local.breaker.opened_at if local.breaker.opened_at is not None else skipping[-1].at
        error = last_error or (calls[0].detail or None)
        return ModelStatus(f"circuit open since {since.isoformat()}", streak, error, *tools, "recent turns")
    return ModelStatus("failing" if streak else "ok", streak, last_error, *tools, "recent turns")


def _from_breaker(local: ModelHealth, tools: tuple[bool | None, str | None]) -> ModelStatus:
    breaker = local.breaker
    if breaker.state is not CircuitState.CLOSED and breaker.opened_at is not None:
        status = f"circuit open since {breaker.opened_at.isoformat()}"
    else:
        status = "failing" if breaker.consecutive_failures else "ok"
    error = breaker.last_error if breaker.consecutive_failures else None
    return ModelStatus(status, breaker.consecutive_failures, error, *tools, "this process")


def _leading(calls: list[RecentCall], outcome: str) -> list[RecentCall]:
    run = []
    for call in calls:
        if call.outcome != outcome:
            break
        run.append(call)
    return run
