"""Slack under load with durable turns: ack latency, exactly-once replies, worker throughput, backlog drain
and crash recovery, against real `supportbot` processes on one database and one Redis.

Parts (all by default; `--slack-parts` picks some):
- ack: `supportbot run` as shipped (a web process acking, one `supportbot worker` child answering) at each
  rate, each backlog drained before the next, then the same rate of nothing but retries of answered events
  (the ack path alone);
- burst: the same, 60 s at 200 events/s: ack latency, and the time from the burst's end to the last reply;
  it is also set-up (a)'s 200 events/s row;
- inprocess: `supportbot run --workers 0` (turns answered in the acknowledging process) at 200 events/s,
  and its retries-only control;
- split: `supportbot run --no-workers` acking and one `supportbot worker` started apart answering: 200
  events/s and its retries-only control;
- threads: the same at 200 events/s with torch's default thread pool (one per core) in the worker (a
  diagnostic: why EMBEDDING_THREADS defaults to 1);
- backlog: 1,000 events stored by `run --no-workers` alone, then 1 or 2 workers started: throughput, CPU
  per answer, and the time from their start to the last reply (recovery from a stopped fleet);
- crash: `supportbot run` and its worker SIGKILLed mid-backlog and restarted: restart → last reply.

Run alone with `python -m bench.slack_ack`, or as part of `python -m bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench import pg_log, slack_queue
from bench.database import BenchServer
from bench.host_probe import HostProbe, HostSamples
from bench.slack_load import RateRun, open_loop, tally
from bench.slack_queue import BacklogRun, CrashRun
from bench.slack_rig import (
    CHANNEL,
    BotProcess,
    CpuMeter,
    Events,
    Replies,
    Storage,
    environment,
    load_average,
    log_problems,
    post,
    supportbot,
)
from bench.slack_stalls import Stalls, read_stalls
from bot.settings import Settings
from tests.fakes.slack_api import FakeSlack

log = logging.getLogger("bench.slack_ack")  # also when run as __main__

PARTS = ("ack", "burst", "inprocess", "split", "threads", "backlog", "crash")
RATES = (50, 100, 200)
TARGET_RATE = 200
TARGET_P99_MS = 15.0
DEFAULT = "(a) `supportbot run`"
IN_PROCESS = "(b) `supportbot run --workers 0`"
SPLIT = "(c) `run --no-workers` + `worker`"
SPLIT_TORCH_DEFAULT = "(c), the worker with `EMBEDDING_THREADS=0` (diagnostic)"
TORCH_DEFAULT = {"EMBEDDING_THREADS": "0"}  # torch's own pool: one thread per core
QUIET_SECONDS = 30.0  # the backlog has drained when no reply came for this long (or all are in)
DRAIN_LIMIT_SECONDS = 1500.0
# The backlog runs, in this order each round: worker processes, and what their environment adds. The
# second pair is a diagnostic: torch's OpenMP pool at one thread per core instead of the shipped one.
BACKLOG_PLAN: tuple[tuple[int, dict[str, str]], ...] = ((1, {}), (2, {}), (1, TORCH_DEFAULT), (2, TORCH_DEFAULT))


@dataclass(frozen=True)
class SlackOptions:
    parts: tuple[str, ...] = PARTS
    rates: tuple[int, ...] = RATES
    seconds: float = 20.0  # per rate
    burst_seconds: float = 60.0
    backlog_events: int = 1000
    crash_events: int = 1000
    rounds: int = 1  # of BACKLOG_PLAN
    threads_diagnostic: bool = True  # the EMBEDDING_THREADS=0 half of BACKLOG_PLAN
    warmup: int = 20
    seed: int = 7
    bot_env: tuple[tuple[str, str], ...] = ()  # added to every bot process's environment (e.g. WORKER_NICE)
    pg_log: Path | None = None  # where to copy the PostgreSQL server's log, with bench.pg_log's diagnostics on

    @classmethod
    def quick(cls, **changes: object) -> SlackOptions:
        values: dict[str, object] = {
            "seconds": 5.0,
            "burst_seconds": 10.0,
            "backlog_events": 200,
            "crash_events": 200,
            "warmup": 5,
        }
        return cls(**(values | changes))  # type: ignore[arg-type]


@dataclass
class SlackResult:
    options: SlackOptions
    runs: list[RateRun]  # every open-loop run of set-ups (a) and (b), the burst included
    burst: RateRun | None
    backlog: list[BacklogRun]
    crash: CrashRun | None
    lease_s: float
    concurrency: int
    pool: int
    load_start: str
    load_end: str
    elapsed_s: float
    problems: dict[str, Counter[str]] = field(default_factory=dict)  # process log → warnings and errors
    stalls: dict[str, Stalls] = field(default_factory=dict)  # process log → its event-loop stalls
    host: HostSamples = field(default_factory=HostSamples)  # the machine's own stalls (bench/host_probe.py)
    failures: list[str] = field(default_factory=list)  # parts that could not finish, and why

    def at(self, setup: str, rate: int, *, replay: bool = False) -> RateRun | None:
        return next(
            (r for r in self.runs if r.setup == setup and r.acks.rate == rate and r.acks.replay == replay), None
        )


async def _warm(session: aiohttp.ClientSession, url: str, fake: FakeSlack, events: Events, count: int) -> None:
    """Events one by one, each answered before the next: model, caches and connections are warm. An event
    refused (a 503 while a process is still starting) is sent again, as Slack would."""
    for _ in range(count):
        replies = Replies(fake)
        ts, body = events.next()
        error: str | None = "not sent"
        for attempt in range(5):
            _, error = await post(session, f"{url}/slack/events", body, retry=attempt > 0)
            if error is None:
                break
            await asyncio.sleep(2.0)
        events.acked.append((ts, body))
        if error or not await replies.drain({ts: 0.0}, quiet=60.0, limit=120.0, grace=0.0):
            raise RuntimeError(f"warm-up event not answered ({error or 'no reply'})")


async def rate_run(
    session: aiohttp.ClientSession,
    url: str,
    fake: FakeSlack,
    events: Events,
    meter: CpuMeter,
    *,
    setup: str,
    rate: int,
    seconds: float,
    seed: int,
    replay: bool = False,
) -> RateRun:
    log.info("slack %s: %d requests/s for %.0f s%s", setup, rate, seconds, ", retries only" * replay)
    replies = Replies(fake)
    before = meter.sample()
    stop = asyncio.Event()
    watcher = asyncio.create_task(replies.watch(stop))
    sent = await open_loop(session, f"{url}/slack/events", events, rate=rate, seconds=seconds, seed=seed, replay=replay)
    stop.set()
    await watcher
    drained = await replies.drain(sent.threads, quiet=QUIET_SECONDS, limit=DRAIN_LIMIT_SECONDS)
    counted = tally(replies, sent.threads, drained=drained)
    end = max(replies.last_reply, sent.last_sent)
    run = RateRun(
        setup=setup,
        acks=sent.acks,
        tally=counted,
        span_s=end - sent.start if sent.threads else 0.0,
        drain_s=end - sent.last_sent,
        cpu=meter.sample() - before,
        load=load_average(),
    )
    stats = run.acks.stats
    log.info(
        "  ack p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d errors; %s; %.1f answers/s, drain %.1f s",
        stats.p50,
        stats.p99,
        stats.max,
        sum(run.acks.errors.values()),
        counted.counts(),
        run.answers_per_second,
        run.drain_s,
    )
    return run


async def run(options: SlackOptions = SlackOptions(), *, server: BenchServer | None = None) -> SlackResult:
    clock, load_start = time.perf_counter(), load_average()
    own_server = server is None
    server = server or BenchServer()
    settings = await server.fresh_database("bench_slack")
    if options.pg_log is not None:
        await pg_log.turn_on(settings)
    assert settings.database_url is not None
    storage = Storage(settings.database_url.get_secret_value(), server.home / "pgdata", server.home / "slack-redis.db")
    fake = FakeSlack()
    base_url = fake.start()
    folder = Path(tempfile.mkdtemp(prefix="supportbot-bench-slack-"))
    defaults = {name: Settings.model_fields[name].default for name in ("turn_lease", "turn_concurrency", "db_pool_max")}
    result = SlackResult(
        options=options,
        runs=[],
        burst=None,
        backlog=[],
        crash=None,
        lease_s=float(defaults["turn_lease"]),
        concurrency=max(1, min(int(defaults["turn_concurrency"]), int(defaults["db_pool_max"]) - 2)),
        pool=int(defaults["db_pool_max"]),
        load_start=load_start,
        load_end="",
        elapsed_s=0.0,
    )
    try:
        env = environment(folder, base_url, database_url=storage.database_url, redis_url=storage.redis_url)
        env |= dict(options.bot_env)
        log.info("slack: migrating, ingesting examples/acme and binding %s", CHANNEL)
        await supportbot(env, "db", "migrate")
        await supportbot(env, "ingest", "examples/acme")
        await supportbot(env, "channels", "bind", CHANNEL, "acme")
        connector = aiohttp.TCPConnector(limit=1000)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(60)) as session,
            HostProbe(folder) as probe,
        ):
            await _measure(session, options, result, fake=fake, env=env, folder=folder, storage=storage)
        result.host = probe.samples()
    finally:
        result.problems = _collect_logs(folder)
        result.stalls = _collect_stalls(folder)
        fake.stop()
        storage.close()
        shutil.rmtree(folder, ignore_errors=True)
        await server.drop_database("bench_slack")
        if options.pg_log is not None:
            pg_log.save(server.home / "pgdata", options.pg_log)
        if own_server:
            server.close()
    result.load_end = load_average()
    result.elapsed_s = time.perf_counter() - clock
    return result


@dataclass
class _Phase:
    """What every part needs: the HTTP session, the fake Slack, the run's events and CPU meter."""

    session: aiohttp.ClientSession
    options: SlackOptions
    result: SlackResult
    fake: FakeSlack
    env: dict[str, str]
    folder: Path
    meter: CpuMeter
    events: Events


async def _measure(
    session: aiohttp.ClientSession,
    options: SlackOptions,
    result: SlackResult,
    *,
    fake: FakeSlack,
    env: dict[str, str],
    folder: Path,
    storage: Storage,
) -> None:
    """Each set-up in turn, with its own queue (what one leaves undone is never taken by the next); one that
    fails is recorded and the others still run."""
    phase = _Phase(session, options, result, fake, env, folder, CpuMeter(storage), Events(options.seed))
    parts = set(options.parts)
    steps = [
        ("default", _default, {"ack", "burst"} & parts),
        ("in-process", _in_process, {"inprocess"} & parts),
        ("split", _split, {"split", "threads", "backlog"} & parts),
        ("crash", _crash, {"crash"} & parts),
    ]
    for name, step, wanted in steps:
        if not wanted:
            continue
        try:
            await step(phase)
        except Exception as exc:
            log.exception("slack: the %s part failed", name)
            result.failures.append(f"{name}: {type(exc).__name__}: {exc}")


async def _default(p: _Phase) -> None:
    options, seed, parts = p.options, p.options.seed, p.options.parts
    bot = BotProcess(p.env | {"TURN_QUEUE": "bench-a"}, p.folder, "run", name="run")
    await bot.start(p.session)
    p.meter.bots = [bot]
    try:
        await _warm(p.session, bot.url, p.fake, p.events, options.warmup)
        if "ack" in parts:
            for number, rate in enumerate(options.rates):
                if rate == TARGET_RATE and "burst" in parts:
                    continue  # the burst is this rate's row
                p.result.runs.append(
                    await rate_run(
                        p.session, bot.url, p.fake, p.events, p.meter,
                        setup=DEFAULT, rate=rate, seconds=options.seconds, seed=seed + number,
                    )
                )  # fmt: skip
            p.result.runs.append(
                await rate_run(
                    p.session, bot.url, p.fake, p.events, p.meter,
                    setup=DEFAULT, rate=TARGET_RATE, seconds=options.seconds, seed=seed + 10, replay=True,
                )
            )  # fmt: skip
        if "burst" in parts:
            p.result.burst = await rate_run(
                p.session, bot.url, p.fake, p.events, p.meter,
                setup=DEFAULT, rate=TARGET_RATE, seconds=options.burst_seconds, seed=seed + 20,
            )  # fmt: skip
            p.result.runs.append(p.result.burst)
    finally:
        await bot.stop()


async def _in_process(p: _Phase) -> None:
    options, seed = p.options, p.options.seed
    bot = BotProcess(p.env | {"TURN_QUEUE": "bench-in"}, p.folder, "run", "--workers", "0", name="run-in-process")
    await bot.start(p.session)
    p.meter.bots = [bot]
    try:
        await _warm(p.session, bot.url, p.fake, p.events, options.warmup)
        for replay in (False, True):
            p.result.runs.append(
                await rate_run(
                    p.session, bot.url, p.fake, p.events, p.meter,
                    setup=IN_PROCESS, rate=TARGET_RATE, seconds=options.seconds, seed=seed + 60 + replay,
                    replay=replay,
                )
            )  # fmt: skip
    finally:
        await bot.stop()


async def _crash(p: _Phase) -> None:
    options = p.options
    log.info("slack: %d events, `supportbot run` and its worker SIGKILLed, restarted", options.crash_events)
    p.result.crash = c = await slack_queue.crash(
        p.session,
        p.fake,
        p.events,
        env=p.env | {"TURN_QUEUE": "bench-crash"},
        folder=p.folder,
        events_count=options.crash_events,
        seed=options.seed + 30,
        lease=p.result.lease_s,
        limit=DRAIN_LIMIT_SECONDS,
    )
    log.info(
        "  %d answered before the kill; restart → last reply %.1f s; %s",
        c.answered_before_kill,
        c.restart_to_last_s,
        c.tally.counts(),
    )


async def _split(p: _Phase) -> None:
    options, seed, parts = p.options, p.options.seed, p.options.parts
    env = p.env | {"TURN_QUEUE": "bench-b"}
    web = BotProcess(env, p.folder, "run", "--no-workers", name="web")
    await web.start(p.session)
    try:
        for setup, extra, wanted in ((SPLIT, {}, "split"), (SPLIT_TORCH_DEFAULT, TORCH_DEFAULT, "threads")):
            if wanted not in parts:
                continue
            worker = BotProcess(env | extra, p.folder, "worker", name="worker-torch-default" if extra else "worker")
            await worker.start()
            p.meter.bots = [web, worker]
            try:
                await _warm(p.session, web.url, p.fake, p.events, options.warmup if not extra else 5)
                for replay in (False, True) if not extra else (False,):
                    p.result.runs.append(
                        await rate_run(
                            p.session, web.url, p.fake, p.events, p.meter,
                            setup=setup, rate=TARGET_RATE, seconds=options.seconds,
                            seed=seed + (50 if extra else 40) + replay, replay=replay,
                        )
                    )  # fmt: skip
            finally:
                await worker.stop()
        if "backlog" in parts:
            await _backlog(p, web, env)
    finally:
        await web.stop()


async def _backlog(p: _Phase, web: BotProcess, env: dict[str, str]) -> None:
    options = p.options
    plan = BACKLOG_PLAN if options.threads_diagnostic else BACKLOG_PLAN[:2]
    for round_number in range(options.rounds):
        for number, (workers, extra) in enumerate(plan):
            log.info(
                "slack: %d events stored by `run --no-workers`, then %d worker(s) %s",
                options.backlog_events,
                workers,
                extra or "",
            )
            done = await slack_queue.backlog(
                p.session,
                web,
                p.fake,
                p.events,
                p.meter,
                events_count=options.backlog_events,
                workers=workers,
                env=env,
                extra_env=extra,
                seed=options.seed + 100 + 10 * round_number + number,
                limit=DRAIN_LIMIT_SECONDS,
            )
            p.result.backlog.append(done)
            log.info(
                "  start → last reply %.1f s; %.1f answers/s; bot CPU %.0f ms/answer; %s",
                done.start_to_last_s,
                done.answers_per_second,
                done.cpu_ms(done.window.bots),
                done.tally.counts(),
            )


def _collect_logs(folder: Path) -> dict[str, Counter[str]]:
    """Each bot process's warnings and errors; its whole log kept in BENCH_KEEP_LOGS, when that is set."""
    keep = os.environ.get("BENCH_KEEP_LOGS")
    problems: dict[str, Counter[str]] = {}
    for path in sorted(folder.glob("*.log")):
        role = re.sub(r"[-\d]+$", "", path.stem)  # the backlog workers together
        problems.setdefault(role, Counter()).update(log_problems(path))
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(keep) / path.name)
    return problems


def _collect_stalls(folder: Path) -> dict[str, Stalls]:
    stalls: dict[str, Stalls] = {}
    for path in sorted(folder.glob("*.log")):
        found = read_stalls(path)
        if found.lengths_ms:
            role = re.sub(r"[-\d]+$", "", path.stem)
            into = stalls.setdefault(role, Stalls())
            into.lengths_ms += found.lengths_ms
            into.cpu_ms += found.cpu_ms
            into.gc_ms += found.gc_ms
    return stalls


def parse_env(text: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            key, equals, value = item.partition("=")
            if not equals or not key:
                raise argparse.ArgumentTypeError(f"{item!r} is not KEY=VALUE")
            pairs.append((key, value))
    return tuple(pairs)


def parse_parts(text: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown Slack part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    return parts


async def _main(options: SlackOptions) -> None:
    from bench.slack_report import render

    print(render(await run(options)))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("bench").setLevel(logging.INFO)
    parser = argparse.ArgumentParser(prog="python -m bench.slack_ack", description=__doc__)
    parser.add_argument("--parts", type=parse_parts, default=PARTS, help=f"comma-separated: {','.join(PARTS)}")
    parser.add_argument("--rates", default=",".join(map(str, RATES)), help="comma-separated requests per second")
    parser.add_argument("--bot-env", type=parse_env, default=(), help="KEY=VALUE,… for every bot process")
    parser.add_argument("--quick", action="store_true", help="5 s per rate, a 10 s burst, 200-event backlogs")
    parser.add_argument(
        "--pg-log", type=Path, help="copy the PostgreSQL log here, with slow statements and lock waits logged"
    )
    arguments = parser.parse_args()
    chosen = tuple(int(rate) for rate in arguments.rates.split(",") if rate.strip())
    base = SlackOptions.quick if arguments.quick else SlackOptions
    asyncio.run(_main(base(parts=arguments.parts, rates=chosen, bot_env=arguments.bot_env, pg_log=arguments.pg_log)))
