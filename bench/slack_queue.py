"""Work that waits in the queue: worker throughput on a stored backlog, and recovery after a crash.

Backlog: `supportbot run --no-workers` stores and acks N events while no worker runs (nothing is
answered), then N `supportbot worker` processes are started cold; the time from their start to the last
reply is the recovery time, and answers over first → last reply the throughput.

Crash: an all-in-one `supportbot run` is sent N events and SIGKILLed as soon as the last is acked, mid
backlog; a new `supportbot run` is started on the same database and Redis, and the time from that restart
to the last reply is measured. Turns the dead process was running wait for their lease (TURN_LEASE) to
expire before they run again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.slack_load import Acks, Tally, open_loop, tally
from bench.slack_rig import BotProcess, CpuMeter, CpuSample, Events, Replies, load_average
from tests.fakes.slack_api import FakeSlack

log = logging.getLogger(__name__)

QUEUE_RATE = 200  # events/s while the backlog is stored
GRACE_SECONDS = 2.0  # after the last expected reply, for doubles
QUIET_SECONDS = 60.0  # no reply for this long: the rest is not coming


@dataclass
class BacklogRun:
    workers: int
    env: dict[str, str]  # set for the workers on top of the run's environment (a diagnostic)
    queue_acks: Acks  # stored and acked by the web process alone, nothing answering
    queue_cpu: CpuSample  # while storing
    answered_while_queuing: int
    start_to_first_s: float  # worker processes spawned → first reply
    start_to_last_s: float  # … → last reply: the recovery time
    window_answers: int  # replies after the first, up to the last
    window: CpuSample  # first reply → last reply
    tally: Tally
    load: str

    @property
    def label(self) -> str:
        extra = ", ".join(f"{key}={value}" for key, value in self.env.items())
        return f"{self.workers} worker{'s' * (self.workers > 1)}" + (f" ({extra})" if extra else "")

    @property
    def answers_per_second(self) -> float:
        return self.window_answers / self.window.at if self.window.at > 0 else float("nan")

    def cpu_ms(self, seconds: float) -> float:
        return seconds / self.window_answers * 1000 if self.window_answers else float("nan")


@dataclass
class CrashRun:
    events: int
    answered_before_kill: int
    killed_after_last_ack_s: float
    restart_to_healthy_s: float
    restart_to_first_s: float
    restart_to_last_s: float
    lease_s: float
    tally: Tally
    acks: Acks
    problems: list[str] = field(default_factory=list)


async def _until_answered(
    replies: Replies, threads: dict[str, float], *, meter: CpuMeter | None, limit: float
) -> tuple[tuple[CpuSample, int] | None, CpuSample | None, bool]:
    """Poll until every thread has a reply: (CPU and replies at the first reply, CPU at the last, drained)."""
    first: tuple[CpuSample, int] | None = None
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        replies.poll()
        if first is None and replies.count and meter is not None:
            first = (meter.sample(), replies.count)
        if replies.answered_all(threads):
            return first, meter.sample() if meter is not None else None, True
        if time.perf_counter() - max(replies.last_reply, started) > QUIET_SECONDS:
            break
        await asyncio.sleep(0.1)
    return first, meter.sample() if meter is not None else None, False


async def backlog(
    session: aiohttp.ClientSession,
    web: BotProcess,
    fake: FakeSlack,
    events: Events,
    meter: CpuMeter,
    *,
    events_count: int,
    workers: int,
    env: dict[str, str],
    extra_env: dict[str, str],
    seed: int,
    limit: float,
) -> BacklogRun:
    replies = Replies(fake)
    meter.bots = [web]
    before = meter.sample()
    sent = await open_loop(
        session,
        f"{web.url}/slack/events",
        events,
        rate=QUEUE_RATE,
        seconds=events_count / QUEUE_RATE,
        seed=seed,
        retry_share=0.0,
    )
    queue_cpu = meter.sample() - before
    replies.poll()
    answered_while_queuing = replies.count
    bots = [
        BotProcess(env | extra_env, web.log_path.parent, "worker", name=f"backlog-worker-{seed}-{n}")
        for n in range(workers)
    ]
    meter.bots = [web, *bots]
    started = time.perf_counter()
    for bot in bots:
        await bot.start()
    first, last, drained = await _until_answered(replies, sent.threads, meter=meter, limit=limit)
    await asyncio.sleep(GRACE_SECONDS)
    counted = tally(replies, sent.threads, drained=drained)
    for bot in bots:
        await bot.stop()
    if first is None or last is None:
        first = (meter.sample(), replies.count)
        last = first[0]
    return BacklogRun(
        workers=workers,
        env=extra_env,
        queue_acks=sent.acks,
        queue_cpu=queue_cpu,
        answered_while_queuing=answered_while_queuing,
        start_to_first_s=replies.first_reply - started if replies.first_reply else float("nan"),
        start_to_last_s=replies.last_reply - started if replies.last_reply else float("nan"),
        window_answers=replies.count - first[1],
        window=last - first[0],
        tally=counted,
        load=load_average(),
    )


async def crash(
    session: aiohttp.ClientSession,
    fake: FakeSlack,
    events: Events,
    *,
    env: dict[str, str],
    folder: Path,
    events_count: int,
    seed: int,
    lease: float,
    limit: float,
) -> CrashRun:
    """SIGKILL an all-in-one `supportbot run` right after the last of `events_count` events is acked."""
    first_bot = BotProcess(env, folder, "run", name="crash-run")
    await first_bot.start(session)
    replies = Replies(fake)
    sent = await open_loop(
        session,
        f"{first_bot.url}/slack/events",
        events,
        rate=QUEUE_RATE,
        seconds=events_count / QUEUE_RATE,
        seed=seed,
        retry_share=0.0,
    )
    acked = time.perf_counter()  # every event acked (refused ones re-sent until they were, or given up)
    await first_bot.kill()
    killed = time.perf_counter()
    replies.poll()
    before = replies.count
    second = BotProcess(env, folder, "run", name="crash-restart")
    restarted = time.perf_counter()
    await second.start(session)
    healthy = time.perf_counter()
    mark = replies.count
    _, _, drained = await _until_answered(replies, sent.threads, meter=None, limit=limit)
    await asyncio.sleep(GRACE_SECONDS)
    counted = tally(replies, sent.threads, drained=drained)
    await second.stop()
    after = [t for posts in replies.threads.values() for t, _ in posts if t >= restarted]
    problems = [f"{count} × `{kind}`" for bot in (first_bot, second) for kind, count in bot.problems().most_common(4)]
    return CrashRun(
        events=len(sent.threads),
        answered_before_kill=before,
        killed_after_last_ack_s=killed - acked,
        restart_to_healthy_s=healthy - restarted,
        restart_to_first_s=(min(after) - restarted) if after and replies.count > mark else float("nan"),
        restart_to_last_s=(max(after) - restarted) if after else float("nan"),
        lease_s=lease,
        tally=counted,
        acks=sent.acks,
        problems=problems,
    )
