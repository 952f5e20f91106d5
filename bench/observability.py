"""What tracing and metrics cost: the Slack ack and the core turn with them off and on, alternating in one run.

Modes, switched between blocks of the same run (so machine load hits all of them alike):
- off: the OpenTelemetry API's no-op tracer and no metrics;
- on: what ships when nothing is exported: the SDK's tracer with a sampler that drops every span (real trace
  ids, stored on decisions and audit rows; nothing recorded) and the Prometheus metrics;
- recorded: every span recorded and handed to a batch processor (an exporting deployment, minus its network:
  the exporter discards), and the metrics.

Acks: signed Slack message events posted one after another to the real aiohttp app and Bolt (no worker runs
the turns, so only the ack path is measured); each is stored and queued in PostgreSQL. Turns: the core with the
offline answerer on the sample knowledge base, each question inside a root span as a queued turn has.

Run with `python -m bench.observability [--events 3000] [--rounds 6] [--write]`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import socket
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import aiohttp
from aiohttp import web
from opentelemetry import trace
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import NoOpTracer, Span, Tracer, TracerProvider

import bot.queue.intake
import bot.slack.app
from bench.database import BenchServer
from bench.slack_rig import SECRET, post
from bot.core_factory import build_core
from bot.metrics import metrics
from bot.server import build_app
from bot.services import Services, open_services, search_config
from bot.slack.app import SlackAdapter
from bot.storage import open_redis
from bot.telemetry import build_provider
from escalation.models import Actor, Role
from handlers.models import InboundMessage, Platform
from knowledge.embedder import CachingEmbedder
from knowledge.ingest import IngestOptions
from knowledge.search import HybridSearcher
from tests.fakes.slack_api import FakeSlack

REPO = Path(__file__).resolve().parent.parent
MODES = ("off", "on", "recorded")
BUDGET = 0.05  # on within 5 % of off
CUSTOMER = Actor("bench-customer", Role.CUSTOMER)
QUESTIONS = [
    "How long does standard shipping take?",
    "What is your return policy?",
    "How do I reset my password?",
    "What does error E118 mean?",
    "Can I pay with PayPal?",
    "What are the API rate limits?",
    "Where can I download my invoice?",
    "My parcel arrived damaged",
    "How do I factory reset the hub?",
    "Which items cannot be returned?",
]


class _Discard(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _Switching(TracerProvider):
    """One global provider whose tracers follow `mode` (the API lets a process set its provider only once)."""

    def __init__(self) -> None:
        self.mode = "off"
        self._providers = {
            "on": build_provider(record=False),
            "recorded": build_provider(BatchSpanProcessor(_Discard()), record=True),
        }

    def get_tracer(self, name: str, *args: Any, **kwargs: Any) -> Tracer:
        return _SwitchingTracer(self, {mode: p.get_tracer(name) for mode, p in self._providers.items()})

    def flush(self) -> None:
        for provider in self._providers.values():
            provider.force_flush()


class _SwitchingTracer(Tracer):
    def __init__(self, owner: _Switching, tracers: dict[str, Tracer]) -> None:
        self._owner = owner
        self._tracers = {"off": NoOpTracer(), **tracers}

    def start_span(self, *args: Any, **kwargs: Any) -> Span:
        return self._tracers[self._owner.mode].start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> AbstractContextManager[Span]:  # type: ignore[override]
        return self._tracers[self._owner.mode].start_as_current_span(*args, **kwargs)


class _Null:
    def labels(self, *_: Any) -> _Null:
        return self

    def inc(self, *_: Any) -> None: ...

    def observe(self, *_: Any) -> None: ...


class _NullMetrics:
    def __getattr__(self, _: str) -> _Null:
        return _Null()


SWITCH = _Switching()
_NULL = _NullMetrics()


def _switched_metrics() -> Any:
    return _NULL if SWITCH.mode == "off" else metrics()


def _use_switch() -> None:
    trace.set_tracer_provider(SWITCH)
    # the ack path's metric updates follow the mode too (the turn's: an observed core or a plain one)
    bot.slack.app.metrics = _switched_metrics  # type: ignore[attr-defined]
    bot.queue.intake.metrics = _switched_metrics  # type: ignore[attr-defined]


@contextmanager
def _mode(mode: str) -> Iterator[None]:
    SWITCH.mode = mode
    try:
        yield
    finally:
        SWITCH.flush()
        SWITCH.mode = "off"


def _order(block: int) -> list[str]:
    """Each block starts with another mode, so none always runs first (or last) in a block."""
    shift = block % len(MODES)
    return [*MODES[shift:], *MODES[:shift]]


def _p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _event(number: int) -> str:
    ts = f"{1_900_000_000 + number}.000100"
    event = {"type": "message", "channel": "C0BENCH", "user": "U0CUST", "user_team": "T0CUST", "text": "hi", "ts": ts}
    return json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0HOME",
            "api_app_id": "A0APP",
            "event_id": f"EvObs{number:08d}",
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": "T0HOME", "user_id": "U0BOT", "is_bot": True}],
        }
    )


async def acks(services: Services, *, events: int, per_block: int = 20) -> dict[str, list[float]]:
    """Milliseconds to each ack, by mode: `events` in all, `per_block` at a time in each mode in turn."""
    from pydantic import SecretStr

    with FakeSlack() as fake:
        config = services.settings.model_copy(
            update={
                "slack_bot_token": SecretStr("xoxb-bench"),
                "slack_signing_secret": SecretStr(SECRET),
                "slack_api_base_url": fake.base_url,
                "slack_staff_channel": "C0STAFF",
            }
        )
        async with open_redis(config) as redis:
            core = await build_core(dataclasses.replace(services, settings=config))
            adapter = SlackAdapter(
                settings=config,
                core=core,
                escalation=services.escalation,
                pool=services.pool,
                redis=redis,
                explain=lambda _: asyncio.sleep(0, ""),
                drain_every=3600,
            )
            runner = web.AppRunner(build_app(services, redis, slack=adapter))
            await runner.setup()
            port = _free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            url = f"http://127.0.0.1:{port}/slack/events"
            timings: dict[str, list[float]] = {mode: [] for mode in MODES}
            number = 0
            try:
                async with aiohttp.ClientSession() as session:
                    for warm in range(50):
                        await post(session, url, _event(10_000_000 + warm), retry=False)
                    # short blocks: a slow spell of the machine falls on every mode alike
                    for block in range(max(1, events // (per_block * len(MODES)))):
                        for mode in _order(block):
                            with _mode(mode):
                                for _ in range(per_block):
                                    number += 1
                                    took, problem = await post(session, url, _event(number), retry=False)
                                    if problem is not None:
                                        raise RuntimeError(f"ack {number} failed: {problem}")
                                    timings[mode].append(took)
            finally:
                await runner.cleanup()
    return timings


async def turns(services: Services, *, rounds: int) -> dict[str, list[float]]:
    """Milliseconds per core turn, by mode; `rounds` rounds of every question in every mode."""
    await services.ingestor.ingest([REPO / "examples" / "acme"], IngestOptions())
    plain_search = HybridSearcher(services.pool, services.embedder, search_config(services.settings))
    cores = {
        "off": await build_core(dataclasses.replace(services, searcher=plain_search), observed=False),
        "on": await build_core(services),
    }
    cores["recorded"] = cores["on"]
    cache = services.embedder
    assert isinstance(cache, CachingEmbedder)
    tracer = trace.get_tracer("bench")
    timings: dict[str, list[float]] = {mode: [] for mode in MODES}

    async def turn(mode: str, key: str, question: str) -> float:
        cache.clear()  # a new message: its embedding is computed
        started = time.perf_counter()
        with tracer.start_as_current_span("turn"):
            await cores[mode].handle(InboundMessage(Platform.CLI, None, key, CUSTOMER, question))
        return (time.perf_counter() - started) * 1000

    for mode in MODES:  # warm-up: model, caches, prepared statements
        with _mode(mode):
            for number, question in enumerate(QUESTIONS):
                await turn(mode, f"obs:warm:{mode}:{number}", question)
    for block in range(rounds):
        for number, question in enumerate(QUESTIONS):
            for mode in _order(block * len(QUESTIONS) + number):  # each question in every mode, in turn
                with _mode(mode):
                    timings[mode].append(await turn(mode, f"obs:{block}:{mode}:{number}", question))
    return timings


def span_costs(count: int = 20_000) -> dict[str, float]:
    """Microseconds for one span with three attributes and the traceparent a stored event carries."""
    from handlers.tracing import traceparent

    tracer = trace.get_tracer("bench.spans")
    costs = {}
    for mode in MODES:
        with _mode(mode):
            started = time.perf_counter()
            for _ in range(count):
                with tracer.start_as_current_span("x") as span:
                    span.set_attributes({"a": 1, "b": "two", "c": 3.0})
                    traceparent()
            costs[mode] = (time.perf_counter() - started) / count * 1e6
    return costs


def render(ack: dict[str, list[float]], turn: dict[str, list[float]], costs: dict[str, float], command: str) -> str:
    def row(name: str, values: dict[str, list[float]], pick: Callable[[list[float]], float]) -> str:
        base = pick(values["off"])
        cells = [f"{pick(values[mode]):.2f} ms ({pick(values[mode]) / base - 1:+.1%})" for mode in MODES]
        return f"| {name} | " + " | ".join(cells) + " |"

    ack_p99 = {mode: _p(values, 0.99) for mode, values in ack.items()}
    turn_p50 = {mode: statistics.median(values) for mode, values in turn.items()}
    verdicts = [
        f"Slack ack p99 with tracing and metrics on: {ack_p99['on'] / ack_p99['off'] - 1:+.1%} against off",
        f"core turn p50: {turn_p50['on'] / turn_p50['off'] - 1:+.1%}",
    ]
    within = ack_p99["on"] <= ack_p99["off"] * (1 + BUDGET) and turn_p50["on"] <= turn_p50["off"] * (1 + BUDGET)
    return "\n".join(
        [
            "## Tracing and metrics overhead",
            "",
            f"`{command}`: {sum(map(len, ack.values()))} Slack message events acked and "
            f"{sum(map(len, turn.values()))} core turns in one run, the three modes taking turns (acks: 20 events "
            "in one mode, then 20 in the next; turns: each question in every mode, one after another), each round "
            "starting with another mode. *off*: the OpenTelemetry API's no-op tracer, no metrics. *on*: "
            "as shipped with nothing exported (the SDK's tracer with a sampler that drops every span, so every "
            "event still gets a trace id stored on its decision and audit rows; Prometheus metrics counted). "
            "*recorded*: every span recorded and batched to an exporter that discards (an OTLP deployment minus "
            "its network). Acks: one event at a time to the real aiohttp app and Bolt, each stored and queued in "
            "PostgreSQL (no worker answering). Turns: the offline core on the sample knowledge base, inside a root "
            "span as a queued turn.",
            "",
            "| measure | off | on | recorded |",
            "|---|---|---|---|",
            row("Slack ack p50", ack, statistics.median),
            row("Slack ack p99", ack, lambda v: _p(v, 0.99)),
            row("core turn p50", turn, statistics.median),
            row("core turn p95", turn, lambda v: _p(v, 0.95)),
            "| one span with 3 attributes + its traceparent | "
            + " | ".join(f"{costs[mode]:.1f} µs" for mode in MODES)
            + " |",
            "",
            f"Budget: *on* within {BUDGET:.0%} of *off*. {'; '.join(verdicts)}: "
            + ("**PASS**." if within else "**MISS**."),
        ]
    )


def splice(document: str, section: str) -> str:
    lines = document.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("## Tracing and metrics overhead")), None)
    if start is None:
        start = next((i for i, line in enumerate(lines) if line.startswith("## How to read")), len(lines))
        end = start
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    lines[start:end] = [*section.splitlines(), ""]
    return "\n".join(lines) + "\n"


async def _main(events: int, rounds: int, write: bool) -> None:
    _use_switch()
    command = f"python -m bench.observability --events {events} --rounds {rounds}"
    server = BenchServer()
    try:
        settings = await server.fresh_database("bench_observability")
        async with open_services(settings) as services:
            ack = await acks(services, events=events)
            turn = await turns(services, rounds=rounds)
    finally:
        server.close()
    text = render(ack, turn, span_costs(), command)
    print(text)
    if write:
        target = REPO / "docs" / "benchmarks.md"
        target.write_text(splice(target.read_text("utf-8"), text), "utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.observability", description=__doc__)
    parser.add_argument("--events", type=int, default=3000, help="Slack events acked in all")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of the questions in every mode")
    parser.add_argument("--write", action="store_true", help="put the section into docs/benchmarks.md")
    arguments = parser.parse_args()
    asyncio.run(_main(arguments.events, arguments.rounds, arguments.write))
