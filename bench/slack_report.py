"""The Slack section of docs/benchmarks.md, and its rows in the targets table."""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np

from bench.core import QUESTIONS
from bench.host_report import host_section, on_time_note, split_of
from bench.markdown import table
from bench.slack_ack import DEFAULT, IN_PROCESS, SPLIT, SPLIT_TORCH_DEFAULT, TARGET_P99_MS, TARGET_RATE, SlackResult
from bench.slack_load import RETRY_SHARE, Acks, RateRun, Tally
from bench.slack_queue import QUEUE_RATE
from bench.slack_rig import CHANNEL, CpuSample
from bench.slack_summary import (
    WEB_ALONE,
    cores,
    findings,
    fmt,
    merge_acks,
    percentile,
    sum_cpu,
    target_rows,
    torch_threads,
)


def _per_answer(seconds: float, answers: int) -> str:
    return f"{seconds / answers * 1000:.0f}" if answers else "–"


def _ack_row(setup: str, label: str, acks: Acks, others: str) -> list[str]:
    s = acks.stats
    errors = ", ".join(f"{kind} ×{count}" for kind, count in acks.errors.items()) or "0"
    if acks.refused:
        errors += f" ({acks.refused} new events re-sent afterwards, {acks.still_refused} refused again)"
    return [
        setup,
        label,
        f"{acks.seconds:.0f}",
        f"{acks.unique + acks.retries} ({acks.retries} retries)",
        errors,
        fmt(s.p50),
        fmt(s.p95),
        f"**{fmt(s.p99)}**",
        fmt(s.max),
        f"{fmt(percentile(acks.send_lag_ms, 0.99))} / {fmt(max(acks.send_lag_ms, default=float('nan')))}",
        others,
    ]


def _rate_label(run: RateRun) -> str:
    return f"{run.acks.rate}/s" + (", retries only" if run.acks.replay else "")


def _reply_row(run: RateRun) -> list[str]:
    t = run.tally
    return [
        run.setup,
        run.label,
        str(t.unique),
        *_counts(t),
        str(t.staff_posts),
        fmt(run.answers_per_second) if t.unique else "–",
        f"{fmt(percentile(t.answer_s, 0.5))} / {fmt(percentile(t.answer_s, 0.99))}" if t.answer_s else "–",
        (fmt(run.drain_s) if t.unique else "–") + ("" if t.drained else " (replies stopped)"),
        _per_answer(run.cpu.bots, t.answered),
        _per_answer(run.cpu.postgres, t.answered),
    ]


def _counts(t: Tally) -> list[str]:
    return [str(t.answered), str(t.missing), str(t.doubled), str(t.stray), str(t.apologies)]


def render(result: SlackResult) -> str:
    o = result.options
    out = [
        "## Slack under load",
        "",
        "Real `supportbot` processes (offline answerer, the sample knowledge base; `TURN_CONCURRENCY`, "
        f"`DB_POOL_MAX` and `TURN_LEASE` at their defaults: {result.concurrency} turns at once per worker, "
        f"{result.pool} connections, {result.lease_s:.0f} s) on one PostgreSQL database and one Redis that "
        "belong to the benchmark (the embedded servers, passed as `DATABASE_URL` and `REDIS_URL`, so a "
        "SIGKILLed bot takes neither with it), posting to a fake Slack Web API in the benchmark's process; "
        f"channel `{CHANNEL}` bound to `acme`. Signed `event_callback` message events from a Slack Connect "
        "customer go to `POST /slack/events` on loopback, open loop: request i leaves at start + i / rate "
        "whatever became of earlier ones. "
        f"About {RETRY_SHARE:.0%} of requests re-send an event already sent (same `event_id` and `ts`, "
        "`X-Slack-Retry-Num: 1`); a retries-only run sends nothing but such retries of answered events (no new "
        f"turn, no insert: the ack path alone). Texts are the {len(QUESTIONS)} help-centre questions with varied "
        "greetings and sign-offs, every one new, so the bot's embedding cache does not stand in for the model. "
        f"{o.warmup} warm-up events are answered one by one before each set-up's first run. "
        f"Load average at the start {result.load_start}, at the end {result.load_end}; this section took "
        f"{result.elapsed_s:.0f} s. Other sessions share this 2-core machine: the *other work* columns say how "
        "many cores' worth of CPU went to processes that are not the bot, PostgreSQL, Redis or the benchmark "
        "during each run (from /proc/stat less ours); compare runs only with that in mind.",
        "",
        "Set-ups: "
        + DEFAULT
        + " as shipped: the web process acks and stores, one `supportbot worker` child answers at `WORKER_NICE` "
        "(10) lower CPU priority, the local model on one thread per process (`EMBEDDING_THREADS=1`); "
        + IN_PROCESS
        + " answers in the acknowledging process; "
        + SPLIT
        + " acks in one process and answers in a worker started apart (as on another machine, here on the same "
        "2 cores); "
        + SPLIT_TORCH_DEFAULT
        + " is (c) with torch's own thread pool, one thread per core, in the worker (a diagnostic, not the shipped "
        "configuration); " + WEB_ALONE + " is (c)'s web process while no "
        "worker runs (the insert with nothing else going on).",
    ]
    if o.bot_env:
        out += [
            "",
            "**Every bot process ran with "
            + ", ".join(f"`{key}={value}`" for key, value in o.bot_env)
            + " added to its environment** (`--slack-bot-env`): not the shipped configuration.",
        ]
    if result.failures:
        out += ["", "**Parts that could not finish** (their rows are missing below): " + "; ".join(result.failures)]
    out += _acks(result)
    out += _replies(result)
    out += _burst(result)
    out += _backlog(result)
    out += _crash(result)
    out += _cpu(result)
    out += findings(result)
    problems = [
        f"`{name}`: " + "; ".join(f"{count} × `{kind}`" for kind, count in found.most_common(6))
        for name, found in result.problems.items()
        if found
    ]
    if problems:
        out += ["", "Warnings and errors the bot processes logged (numbers blanked):", ""]
        out += [f"- {line}" for line in problems]
    if result.stalls:
        out += ["", "Event-loop stalls the bot processes logged (`LOOP_STALL_WARN_MS`, every run of the set-up):", ""]
        out += [f"- `{name}`: {stalls.describe()}" for name, stalls in result.stalls.items()]
    return "\n".join(out)


def _acks(result: SlackResult) -> list[str]:
    # the host probe's reading of each set-up's run at the target rate, for its section and its verdict
    splits = {
        run.setup: split_of(run.acks, result.host, target_ms=TARGET_P99_MS)
        for run in result.runs
        if run.acks.rate == TARGET_RATE and not run.acks.replay
    }
    rows = [_ack_row(run.setup, run.label, run.acks, cores(run.cpu.others, run.cpu.at)) for run in result.runs]
    alone = merge_acks([run.queue_acks for run in result.backlog])
    if alone is not None:
        storing = sum_cpu([run.queue_cpu for run in result.backlog])
        rows.append(_ack_row(WEB_ALONE, str(QUEUE_RATE), alone, cores(storing.others, storing.at)))
    out = [
        "",
        "### Ack latency",
        "",
        "Request sent → HTTP 200 received, in milliseconds, every request (retries included); sender lag is how "
        "late the benchmark itself sent a request against its schedule; other work is in cores.",
        "",
        *table(
            (
                "set-up",
                "requests/s",
                "s",
                "requests",
                "errors",
                "p50",
                "p95",
                "p99",
                "max",
                "sender lag p99 / max",
                "other work",
            ),
            rows,
        ),
    ]
    for run in result.runs:
        if run.acks.rate == TARGET_RATE and not run.acks.replay:
            out += [
                "",
                f"Ack p99 second by second, {run.setup} at {TARGET_RATE}/s for {run.acks.seconds:.0f} s (ms): "
                + ", ".join(f"{value:.0f}" for value in run.acks.p99_by_second())
                + ".",
            ]
            if run.acks.seconds > 20:
                out[-1] += f" Over its first 20 s alone: p99 {fmt(run.acks.p99_within(20.0))} ms."
            out += host_section(splits.get(run.setup), target_ms=TARGET_P99_MS)
    verdicts = []
    for setup in (DEFAULT, IN_PROCESS, SPLIT, SPLIT_TORCH_DEFAULT):
        measured = result.at(setup, TARGET_RATE)
        control = result.at(setup, TARGET_RATE, replay=True)
        if measured is None:
            continue
        p99 = measured.acks.stats.p99
        text = f"{setup} {fmt(p99)} ms {'**PASS**' if p99 <= TARGET_P99_MS else '**MISS**'}"
        text += on_time_note(splits.get(setup), target_ms=TARGET_P99_MS)
        if control is not None:
            text += f" (its retries-only control: {fmt(control.acks.stats.p99)} ms)"
        verdicts.append(text)
    if verdicts:
        out += ["", f"Target: ack p99 ≤ {TARGET_P99_MS:.0f} ms at {TARGET_RATE} events/s: " + "; ".join(verdicts) + "."]
    return out


def _replies(result: SlackResult) -> list[str]:
    return [
        "",
        "### Replies: exactly once, answers per second, CPU",
        "",
        "Every new event should get one reply in its own thread (`thread_ts` = its `ts`) and the retries none, "
        "counted on the fake's `chat.postMessage` calls once the backlog drained (all answered and 2 s more, "
        "or no reply for 30 s). Answers/s is events answered over first request → last reply; below the "
        "request rate a backlog builds behind the ack. Bot CPU is every bot process's utime + stime (threads "
        "included, from /proc/PID/stat) over the run and its drain ÷ answers; PostgreSQL's (the postmaster, "
        "its live and its finished backends) is shown apart. Apologies are replies saying the turn failed.",
        "",
        *table(
            (
                "set-up",
                "requests/s",
                "new events",
                "answered once",
                "missing",
                "doubled",
                "stray",
                "apologies",
                "staff posts",
                "answers/s",
                "event → reply p50 / p99 s",
                "drain after last request s",
                "bot CPU ms/answer",
                "PostgreSQL CPU ms/answer",
            ),
            [_reply_row(run) for run in result.runs],
        ),
    ]


def _burst(result: SlackResult) -> list[str]:
    run = result.burst
    if run is None:
        return []
    t = run.tally
    return [
        "",
        "### Backlog drain after a burst",
        "",
        f"{DEFAULT}, {run.acks.seconds:.0f} s at {run.acks.rate} events/s ({t.unique:,} new events): the last "
        f"reply came **{fmt(run.drain_s)} s** after the burst's last request"
        + ("" if t.drained else " (replies stopped before every event was answered)")
        + f"; {t.counts()} ({t.apologies} apologies). It answered {fmt(run.answers_per_second)} events/s over "
        f"first request → last reply; event → reply p50 {fmt(percentile(t.answer_s, 0.5))} s, p99 "
        f"{fmt(percentile(t.answer_s, 0.99))} s. Other work on the machine meanwhile: "
        f"{cores(run.cpu.others, run.cpu.at)} cores.",
    ]


def _backlog(result: SlackResult) -> list[str]:
    if not result.backlog:
        return []
    rows = [
        [
            str(run.workers),
            torch_threads(run),
            str(run.tally.unique),
            str(run.answered_while_queuing),
            fmt(run.start_to_first_s),
            fmt(run.start_to_last_s),
            f"**{fmt(run.answers_per_second)}**",
            _per_answer(run.window.bots, run.window_answers),
            _per_answer(run.window.postgres, run.window_answers),
            cores(run.window.others, run.window.at),
            run.tally.counts(),
        ]
        for run in result.backlog
    ]
    out = [
        "",
        "### Worker processes on a stored backlog",
        "",
        f"`supportbot run --no-workers` stores and acks {result.options.backlog_events:,} events at {QUEUE_RATE}/s "
        "while no worker runs (nothing is answered), then that many `supportbot worker` processes are started "
        "cold. Start → last reply is the time to work off a backlog from a stopped fleet (a crash of every "
        "worker, a deploy); answers/s, CPU and other work are over first reply → last reply, so start-up "
        "(imports, the model) is not in them. Bot CPU includes the idle web process. Runs alternate "
        "1 and 2 workers; the torch threads column is the per-process pool (`EMBEDDING_THREADS`): 1 as shipped, "
        "or torch's own default of one thread per core (a diagnostic, not the shipped configuration).",
        "",
        *table(
            (
                "workers",
                "torch threads",
                "events",
                "answered while storing",
                "start → first reply s",
                "start → last reply s",
                "answers/s",
                "bot CPU ms/answer",
                "PostgreSQL CPU ms/answer",
                "other work",
                "replies",
            ),
            rows,
        ),
    ]
    ratios = []
    for threads in sorted({torch_threads(run) for run in result.backlog}):
        one = [r.answers_per_second for r in result.backlog if torch_threads(r) == threads and r.workers == 1]
        two = [r.answers_per_second for r in result.backlog if torch_threads(r) == threads and r.workers == 2]
        if one and two:
            ratios.append(
                f"torch threads {threads}: {np.median(two):.1f} ÷ {np.median(one):.1f} = "
                f"**{np.median(two) / np.median(one):.2f}×**"
            )
    if ratios:
        out += ["", "2 workers ÷ 1 worker, answers/s (medians): " + "; ".join(ratios) + "."]
    return out


def _crash(result: SlackResult) -> list[str]:
    first = next((r for r in result.backlog if r.workers == 1 and not r.env), None)
    c = result.crash
    if first is None and c is None:
        return []
    out = ["", "### Crash recovery", ""]
    if first is not None:
        out += [
            f"- **Worker started on {first.tally.unique:,} stored events** (stored and acked by `run --no-workers`, "
            f"nothing answered; the first 1-worker run above): start → last reply **{fmt(first.start_to_last_s)} s**, "
            f"first reply after {fmt(first.start_to_first_s)} s; {first.tally.counts()}."
        ]
    if c is not None:
        out += [
            "- **`supportbot run` and its worker SIGKILLed mid-backlog (the process group: a lost machine), then "
            f"restarted**: {c.events:,} events at {QUEUE_RATE}/s; "
            + (
                f"{c.acks.refused} got no 200 at first and were re-sent as Slack would "
                f"({c.acks.still_refused} refused every time); "
                if c.acks.refused
                else ""
            )
            + f"SIGKILL {c.killed_after_last_ack_s * 1000:.0f} ms after the last ack, when {c.answered_before_kill} "
            f"had been answered; restart → healthy {fmt(c.restart_to_healthy_s)} s, → first reply "
            f"{fmt(c.restart_to_first_s)} s, → last reply **{fmt(c.restart_to_last_s)} s**; {c.tally.counts()} "
            f"({c.tally.apologies} apologies). Turns the killed process was running are run again once their "
            f"worker has been silent for `TURN_LEASE` ({c.lease_s:.0f} s), so the last replies wait for that."
        ]
        if c.problems:
            out += ["  Logged: " + "; ".join(c.problems) + "."]
    return out


def _cpu(result: SlackResult) -> list[str]:
    phases: list[tuple[str, CpuSample]] = [(f"{run.setup}, {_rate_label(run)}", run.cpu) for run in result.runs]
    if result.backlog:
        phases.append((f"{WEB_ALONE}, {QUEUE_RATE}/s", sum_cpu([run.queue_cpu for run in result.backlog])))
    phases += [(f"backlog, {run.label}", run.window) for run in result.backlog]
    if not phases:
        return []
    rows = [
        [
            label,
            fmt(sample.at),
            cores(sample.bots, sample.at),
            cores(sample.postgres, sample.at),
            cores(sample.redis, sample.at),
            cores(sample.bench, sample.at),
            cores(sample.others, sample.at),
        ]
        for label, sample in phases
    ]
    return [
        "",
        "### Who used the CPU",
        "",
        "Cores' worth of CPU (CPU-seconds ÷ wall seconds; the machine has 2) per run, drain included; backlog "
        "rows from first to last reply.",
        "",
        *table(("run", "wall s", "bot", "PostgreSQL", "Redis", "benchmark (load, fake Slack)", "other work"), rows),
    ]


# the target rows `target_rows` writes; others that name Slack (bench.observability's) are not this part's
_OWN_TARGET_ROW = re.compile(r"\| Slack (ack p99 at|events answered|crash recovery)")


def splice(document: str, result: SlackResult, *, command: str, started: datetime) -> str:
    """`document` with its Slack section and its Slack target rows replaced by `result`'s (`--only slack`);
    the rest of the document stays as it was measured."""
    note = (
        f"This section was regenerated on its own on {started:%Y-%m-%d %H:%M} (local time) with `{command}`; "
        "the rest of the document is from the run named at the top."
    )
    section = [*render(result).splitlines(), "", note, ""]
    lines = document.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("## Slack")), None)
    if start is None:
        start = next((i for i, line in enumerate(lines) if line.startswith("## How to read")), len(lines))
        end = start
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    lines[start:end] = section
    heading = next((i for i, line in enumerate(lines) if line.startswith("## Targets")), None)
    if heading is not None:
        first = next(i for i in range(heading + 1, len(lines)) if lines[i].startswith("|"))
        last = next((i for i in range(first, len(lines)) if not lines[i].startswith("|")), len(lines))
        kept = [line for line in lines[first:last] if not _OWN_TARGET_ROW.match(line)]
        lines[first:last] = kept + ["| " + " | ".join(row) + " |" for row in target_rows(result)]
    return "\n".join(lines) + "\n"
