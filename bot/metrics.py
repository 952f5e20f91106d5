"""Prometheus metrics, served at `GET /metrics` beside `/slack/events`.

Where the numbers come from:
- counters and histograms are kept by the process that saw the event: acks by the web process, turns,
  model calls, retrieval and executions by whichever process ran the turn or the click;
- gauges of shared state (turns waiting and the oldest one's age, pending approvals, open hand-offs) are read
  from PostgreSQL at scrape time, so they are right whichever process or replica is scraped.

`supportbot run` answers turns in `supportbot worker` child processes: with several processes on one host the
counters are kept in prometheus-client's multiprocess mode (files in PROMETHEUS_MULTIPROC_DIR, which `run` sets
to a fresh folder for itself and its children unless the operator set it) and summed at each scrape. A
`supportbot worker` started by hand elsewhere counts only into such a folder of its own host; scrape the
`supportbot run` of that host. Labels are bounded: platform, workflow (from the policy file), outcome, model,
executor, mode, band: never a user, a conversation or any text.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

from bot.queue_health import queue_health
from knowledge.store import Pool

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "supportbot_"
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
_HUMAN = (10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, 86400.0)
BANDS = ((0.8, "high"), (0.6, "medium"), (0.4, "low"))  # confidence at or above → band; below all: "very_low"


class Metrics:
    """Every metric the bot keeps, registered in `registry` (prometheus-client's default one in production)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        r = registry
        p = PREFIX
        self.events_received = Counter(f"{p}events_received", "Inbound platform requests.", ["platform"], registry=r)
        self.events_acknowledged = Counter(
            f"{p}events_acknowledged", "Inbound requests answered 2xx (stored or handled).", ["platform"], registry=r
        )
        self.ack_seconds = Histogram(
            f"{p}ack_seconds", "Time from request to acknowledgement.", ["platform"], buckets=_FAST, registry=r
        )
        self.dedup_hits = Counter(
            f"{p}dedup_hits", "Retries and duplicates not queued again.", ["platform"], registry=r
        )
        self.turn_seconds = Histogram(
            f"{p}turn_seconds",
            "Time the core took to decide a turn.",
            ["workflow", "outcome"],
            buckets=_SLOW,
            registry=r,
        )
        self.answers = Counter(f"{p}answers", "Answer turns by confidence band.", ["band", "outcome"], registry=r)
        self.handoffs = Counter(f"{p}handoffs", "Hand-offs opened, claimed, returned, closed.", ["event"], registry=r)
        self.approvals = Counter(f"{p}approvals", "Approvals by the state they reached.", ["state"], registry=r)
        self.approval_turnaround = Histogram(
            f"{p}approval_turnaround_seconds",
            "Time from approval request to a person's decision.",
            ["state"],
            buckets=_HUMAN,
            registry=r,
        )
        self.executions = Counter(
            f"{p}executions", "Actions run, by executor and result.", ["executor", "result"], registry=r
        )
        self.rollbacks = Counter(f"{p}rollbacks", "Executed actions rolled back.", ["workflow"], registry=r)
        self.model_calls = Counter(f"{p}model_calls", "Model calls.", ["model", "step", "outcome"], registry=r)
        self.model_tokens = Counter(f"{p}model_tokens", "Model tokens.", ["model", "direction"], registry=r)
        self.model_cost = Counter(
            f"{p}model_cost_usd", "Model cost in US dollars (priced calls).", ["model"], registry=r
        )
        self.retrieval_seconds = Histogram(
            f"{p}retrieval_seconds", "Knowledge search latency.", ["mode"], buckets=_FAST, registry=r
        )
        self.outbox_failures = Counter(
            f"{p}outbox_deliveries_failed", "Posts that failed and were kept in the outbox.", ["platform"], registry=r
        )


@functools.cache
def metrics() -> Metrics:
    """This process's metrics, created on first use (after `use_multiprocess_dir` chose where they are kept)."""
    return Metrics()


def band(confidence: float) -> str:
    return next((name for floor, name in BANDS if confidence >= floor), "very_low")


def use_multiprocess_dir(*, fresh: bool) -> Path | None:
    """Keep counters in files shared by this process and the workers it starts: PROMETHEUS_MULTIPROC_DIR as set,
    or (`fresh`: the web process, whose children inherit the variable) a new temporary folder, deleted when this
    process exits, which it returns. `fresh` empties an operator's folder: counts of processes that are gone would
    otherwise be added to this run's."""
    folder = os.environ.get(MULTIPROC_ENV)
    made = None
    if folder is None:
        if not fresh:
            return None
        folder = tempfile.mkdtemp(prefix="supportbot-metrics-")
        os.environ[MULTIPROC_ENV] = folder
        made = Path(folder)
        atexit.register(shutil.rmtree, made, ignore_errors=True)  # by then the workers have stopped
    elif fresh:
        shutil.rmtree(folder, ignore_errors=True)
    Path(folder).mkdir(parents=True, exist_ok=True)
    if metrics.cache_info().currsize == 0:
        # prometheus-client chose its value store when imported; metrics made from now on use the files
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return made


async def _shared_state(pool: Pool) -> bytes:
    """Gauges read from PostgreSQL now: the same answer from every process and replica."""
    registry = CollectorRegistry()
    queue = await queue_health(pool)
    Gauge(f"{PREFIX}queue_waiting_turns", "Turns stored and not yet done.", registry=registry).set(queue.waiting)
    Gauge(
        f"{PREFIX}queue_oldest_waiting_seconds", "Age of the oldest waiting turn (0: none waits).", registry=registry
    ).set(queue.oldest_waiting_seconds)
    async with pool.connection() as conn:
        pending = await (await conn.execute("SELECT count(*) FROM approvals WHERE state = 'pending'")).fetchone()
        open_ = await (await conn.execute("SELECT count(*) FROM handoffs WHERE state = 'open'")).fetchone()
    Gauge(f"{PREFIX}approvals_pending", "Approvals waiting for a person.", registry=registry).set(
        pending[0] if pending else 0
    )
    Gauge(f"{PREFIX}handoffs_open", "Hand-offs nobody has claimed yet.", registry=registry).set(
        open_[0] if open_ else 0
    )
    return generate_latest(registry)


def counted() -> bytes:
    """The counters and histograms of this process or, in multiprocess mode, of every process of the folder."""
    metrics()  # every family is listed (its HELP and TYPE) from the first scrape on
    if not os.environ.get(MULTIPROC_ENV):
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


async def exposition(pool: Pool) -> bytes:
    """The text format Prometheus scrapes: the counters, then the gauges read from PostgreSQL."""
    return counted() + await _shared_state(pool)
