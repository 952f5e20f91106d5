"""`python -m bench`: measure, print a summary and write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# The local model ships with its package: nothing may reach for the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench import approvals, core, core_cpu, ingest_speed, recall, slack_ack
from bench.database import BenchServer, load_corpus, machine_facts
from bench.latency import MODES, ModeLatency, QueryEmbedder, explain, fts_matches, nearest, prepared_plans, time_mode
from bench.report import render
from bench.results import Results, SizeResult, targets
from bench.slack_ack import PARTS, SlackOptions, parse_env, parse_parts
from bench.slack_report import splice
from bench.slack_summary import target_rows as slack_target_rows
from bench.synthetic import make_corpus, make_queries
from bot.services import open_services, search_config
from knowledge.models import SearchMode

log = logging.getLogger("bench")
LIMIT = 10


@dataclass(frozen=True)
class Options:
    sizes: list[int]
    queries: int
    recall_queries: int
    warmup: int
    files: int
    repeats: int
    seed: int
    output: Path
    approvals: int
    slack: SlackOptions
    only_slack: bool


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated corpus sizes, in chunks")
    parser.add_argument("--queries", type=int, default=300, help="timed queries per mode and size")
    parser.add_argument("--recall-queries", type=int, default=200, help="queries for recall@10")
    parser.add_argument("--warmup", type=int, default=30, help="untimed queries per mode and size first")
    parser.add_argument("--files", type=int, default=300, help="Markdown files for the ingest benchmark")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each ingest step (median taken)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--approvals", type=int, default=400, help="approvals decided by 20 concurrent deciders")
    parser.add_argument(
        "--only",
        choices=["slack"],
        help="run only this part and replace its section (and its targets) in the existing --output",
    )
    parser.add_argument(
        "--slack-parts",
        type=parse_parts,
        default=PARTS,
        help=f"comma-separated Slack parts, default all: {','.join(PARTS)} (see bench/slack_ack.py)",
    )
    parser.add_argument("--slack-rates", default="50,100,200", help="Slack events per second, comma-separated")
    parser.add_argument("--slack-seconds", type=float, default=20.0, help="seconds of Slack events per rate")
    parser.add_argument("--slack-burst-seconds", type=float, default=60.0, help="seconds of the 200 events/s burst")
    parser.add_argument("--slack-backlog", type=int, default=1000, help="events per stored backlog and crash")
    parser.add_argument("--slack-rounds", type=int, default=1, help="rounds of the 1- and 2-worker backlog runs")
    parser.add_argument(
        "--slack-bot-env", type=parse_env, default=(), help="KEY=VALUE,… added to every bot process's environment"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2,000 chunks, 50 queries, 60 files, 1 ingest run; Slack: 5 s per rate, a 10 s burst, "
        "200-event backlogs: a smoke test",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.queries, args.recall_queries, args.warmup = "2000", 50, 50, 10
        args.files, args.repeats, args.approvals, args.slack_seconds = 60, 1, 100, 5.0
        args.slack_burst_seconds, args.slack_backlog = 10.0, 200
    slack = SlackOptions(
        parts=args.slack_parts,
        rates=tuple(int(rate) for rate in str(args.slack_rates).split(",") if rate.strip()),
        seconds=args.slack_seconds,
        burst_seconds=args.slack_burst_seconds,
        backlog_events=args.slack_backlog,
        crash_events=args.slack_backlog,
        rounds=args.slack_rounds,
        warmup=20 if args.slack_seconds >= 20 else 5,
        seed=args.seed,
        bot_env=args.slack_bot_env,
    )
    return Options(
        sizes=[int(size) for size in str(args.sizes).split(",") if size.strip()],
        queries=args.queries,
        recall_queries=args.recall_queries,
        warmup=args.warmup,
        files=args.files,
        repeats=args.repeats,
        seed=args.seed,
        output=args.output,
        approvals=args.approvals,
        slack=slack,
        only_slack=args.only == "slack",
    )


async def bench_size(server: BenchServer, size: int, options: Options, *, explain_plans: bool) -> SizeResult:
    name = f"bench_{size}"
    settings = await server.fresh_database(name)
    log.info("%s chunks: generating the corpus", f"{size:,}")
    corpus = make_corpus(size, seed=options.seed)
    embedder = QueryEmbedder()
    async with open_services(settings, embedder=embedder) as services:  # migrates and registers the space
        log.info("%s chunks: loading and building the HNSW index", f"{size:,}")
        load = await load_corpus(services.pool, settings, corpus)
        log.info(
            "  COPY %.1f s, term stats %.1f s, HNSW %.1f s, VACUUM ANALYZE %.1f s",
            load.copy_seconds,
            load.stats_seconds,
            load.hnsw_seconds,
            load.vacuum_seconds,
        )
        queries = make_queries(corpus, options.queries, seed=options.seed + 1)
        warmup = make_queries(corpus, options.warmup, seed=options.seed + 2)
        latencies = []
        for mode in MODES:
            millis = await time_mode(services.searcher, embedder, queries, mode, limit=LIMIT, warmup=warmup)
            latencies.append(ModeLatency(size, mode, millis, LIMIT))
            stats = latencies[-1].stats
            log.info("  %-6s p50 %.1f ms, p95 %.1f ms, p99 %.1f ms", mode.value, stats.p50, stats.p95, stats.p99)
        prepared = await prepared_plans(services.pool)
        matches = await fts_matches(services.pool, queries)
        log.info("%s chunks: recall@10", f"{size:,}")
        recall_queries = make_queries(corpus, options.recall_queries, seed=options.seed + 3)
        measured = await recall.measure(
            services.pool, services.searcher, embedder, corpus, recall_queries, settings.search_ef_search
        )
        log.info("  HNSW %.3f, search DENSE %.3f", measured.hnsw_public, measured.search_dense)
        result = SizeResult(load, latencies, matches, measured, prepared=prepared if explain_plans else None)
        if explain_plans:
            config = search_config(settings)
            for mode in (SearchMode.HYBRID, SearchMode.FTS, SearchMode.DENSE):
                latency = next(item for item in latencies if item.mode is mode)
                picks = [("median", latency.stats.p50), ("p95", latency.stats.p95)]
                for label, target in picks if mode is SearchMode.HYBRID else picks[1:]:
                    i = nearest(latency.millis, target)
                    plan = await explain(services.pool, embedder, config, queries[i], mode, limit=LIMIT)
                    title = (
                        f"{mode.value}: the query nearest the {label} ({latency.millis[i]:.1f} ms when "
                        f"timed; {matches[i]} visible rows hold a query word) — {queries[i].text!r} as {queries[i].org}"
                    )
                    result.plans.append((title, plan))
    await server.drop_database(name)
    return result


async def run(options: Options, command: str) -> Results:
    started, clock = datetime.now(), time.perf_counter()
    # Other work on the machine shows up in the tails: record how busy it was.
    start_load = ", ".join(f"{load:.2f}" for load in os.getloadavg())
    server = BenchServer()
    try:
        sizes = []
        for size in options.sizes:
            sizes.append(await bench_size(server, size, options, explain_plans=size == max(options.sizes)))
        with tempfile.TemporaryDirectory(prefix="supportbot-bench-md-") as folder:
            ingest_speed.write_markdown(Path(folder), options.files, seed=options.seed)
            log.info("ingest: %d files, %d runs of each step", options.files, options.repeats)
            ingest = await ingest_speed.measure(server, Path(folder), files=options.files, repeats=options.repeats)
        log.info(
            "  embed-only %.0f chunks/s, ingest %.0f chunks/s, ratio %.2f",
            ingest.embed_rate,
            ingest.ingest_rate,
            ingest.ratio,
        )
        log.info("approvals: %d decided by 20 concurrent deciders", options.approvals)
        decided = await approvals.run(server, approvals=options.approvals)
        log.info("conversation core: turn latency against raw search")
        turns = await core.run(server, rounds=2 if options.approvals < 400 else 5)
        log.info("conversation core: CPU per answer, one embedding per turn against two")
        cpu = await core_cpu.run(server, turns=50 if options.approvals < 400 else 200, seed=options.seed)
        log.info("slack: ack latency, replies, workers, drain and recovery against `supportbot` processes")
        slack = await slack_ack.run(options.slack, server=server)
        settings = await server.fresh_database("bench_facts")
        machine = await machine_facts(settings, start_load=start_load)
    finally:
        server.close()
    return Results(
        started=started,
        command=command,
        machine=machine,
        ef_search=settings.search_ef_search,
        candidates=search_config(settings).candidates,
        queries=options.queries,
        warmup=options.warmup,
        sizes=sizes,
        ingest=ingest,
        approvals=decided,
        core=turns,
        core_cpu=cpu,
        slack=slack,
        seconds=time.perf_counter() - clock,
    )


def only_slack(options: Options, command: str) -> int:
    """The Slack part alone, spliced into the existing document: its section and its target rows."""
    started = datetime.now()
    result = asyncio.run(slack_ack.run(options.slack))
    document = options.output.read_text(encoding="utf-8") if options.output.exists() else ""
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(splice(document, result, command=command, started=started), encoding="utf-8")
    for figure, value, target, verdict in slack_target_rows(result):
        print(f"{figure}: {value} (target {target}) {verdict.strip('*')}")
    print(f"wrote the Slack section of {options.output} in {result.elapsed_s:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    log.setLevel(logging.INFO)
    args = sys.argv[1:] if argv is None else argv
    options = parse(args)
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable
    command = shlex.join(["HF_HUB_OFFLINE=1", python, "-m", "bench", *args])
    if options.only_slack:
        return only_slack(options, command)
    results = asyncio.run(run(options, command))
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(render(results), encoding="utf-8")
    for figure, value, target, verdict in targets(results):
        print(f"{figure}: {value} (target {target}) {verdict.strip('*')}")
    print(f"wrote {options.output} in {results.seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
