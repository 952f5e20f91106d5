"""Open-loop signed Slack events against a bot's `/slack/events`, and the exactly-once count of its replies.

Open loop: request i leaves at start + i / rate whatever became of the ones before it, so a slow ack shows
as latency instead of slowing the sender down (a closed loop would hide it).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import aiohttp
import numpy as np

from bench.latency import Percentiles
from bench.slack_rig import CpuSample, Events, Replies, post
from handlers.core import SORRY

RETRY_SHARE = 0.05  # requests that re-send an event already sent, as Slack does when an ack is late
RETRY_PAUSES_SECONDS = (5.0, 15.0, 30.0)  # before each re-send of events that got no 200


@dataclass
class Acks:
    """Request sent → HTTP 200, for every request of one open-loop run."""

    rate: int
    seconds: float
    replay: bool  # every request a retry of an event answered earlier: the ack path without new turns
    unique: int  # new events sent
    retries: int
    ack_ms: list[float]
    ack_at_s: list[float]  # when each successful request left, seconds into the run
    errors: Counter[str]
    send_lag_ms: list[float]  # how late each request left against its schedule (the generator's own health)
    refused: int = 0  # new events without a 200 in the run: re-sent afterwards as Slack would, not timed
    still_refused: int = 0  # … of those, refused by every re-send too (Slack gives up: they are lost)
    wall_start: float = 0.0  # time.time() of the run's second 0: the host probe's clock

    @property
    def stats(self) -> Percentiles:
        return Percentiles.of(self.ack_ms or [float("nan")])

    def p99_by_second(self) -> list[float]:
        second, ms = np.asarray(self.ack_at_s).astype(int), np.asarray(self.ack_ms)
        return [float(np.percentile(ms[second == s], 99)) for s in sorted(set(second.tolist()))]

    def p99_within(self, seconds: float) -> float:
        """p99 of the requests sent in the first `seconds` of the run."""
        at, ms = np.asarray(self.ack_at_s), np.asarray(self.ack_ms)
        chosen = ms[at < seconds]
        return float(np.percentile(chosen, 99)) if chosen.size else float("nan")


@dataclass
class Tally:
    """Every new event should get exactly one reply in its own thread, and retries none."""

    unique: int
    answered: int  # exactly one reply
    missing: int
    doubled: int
    stray: int  # replies to threads not started in this run (an answered retry would be one)
    apologies: int  # of the answered, how many said the turn failed
    staff_posts: int
    answer_s: list[float] = field(default_factory=list)  # event sent → its reply seen (0.1 s polling)
    drained: bool = True  # every event answered before replies stopped

    @property
    def exactly_once(self) -> bool:
        return self.answered == self.unique and self.stray == 0

    def counts(self) -> str:
        return (
            f"{self.answered} of {self.unique} once; {self.missing} missing, {self.doubled} doubled, {self.stray} stray"
        )


@dataclass
class Sent:
    """What one open-loop run sent: its acks, and the new events by thread (ts → when sent)."""

    acks: Acks
    threads: dict[str, float]
    start: float
    last_sent: float


async def open_loop(
    session: aiohttp.ClientSession,
    url: str,
    events: Events,
    *,
    rate: int,
    seconds: float,
    seed: int,
    replay: bool = False,
    retry_share: float = RETRY_SHARE,
) -> Sent:
    rng = random.Random(seed)
    answered_before = list(events.acked)
    threads: dict[str, float] = {}
    sent: list[tuple[str, str]] = []
    results: list[tuple[float, float, str | None]] = []  # sent at, milliseconds, error
    lags: list[float] = []
    refused: list[tuple[str, str]] = []
    start = 0.0  # set once the collector is out of the way: a late schedule would send a burst

    async def send(ts: str, body: str, *, retry: bool, scheduled: float) -> None:
        now = time.perf_counter()
        lags.append((now - scheduled) * 1000)
        if not retry:
            threads[ts] = now
        millis, error = await post(session, url, body, retry=retry)
        results.append((now - start, millis, error))
        if error is None and not retry:
            events.acked.append((ts, body))
        elif error is not None and not retry:
            refused.append((ts, body))

    tasks: list[asyncio.Task[None]] = []
    with _no_pauses():
        start = time.perf_counter() + 0.05
        wall_start = time.time() + (start - time.perf_counter())
        for i in range(round(rate * seconds)):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            retry = replay or (len(sent) >= 10 and rng.random() < retry_share)
            ts, body = rng.choice(answered_before if replay else sent) if retry else events.next()
            if not retry:
                sent.append((ts, body))
            tasks.append(asyncio.create_task(send(ts, body, retry=retry, scheduled=scheduled)))
        await asyncio.gather(*tasks)
    acks = Acks(
        rate=rate,
        seconds=seconds,
        replay=replay,
        unique=len(threads),
        retries=len(results) - len(threads),
        ack_ms=[millis for _, millis, error in results if error is None],
        ack_at_s=[at for at, _, error in results if error is None],
        errors=Counter(error for *_, error in results if error is not None),
        send_lag_ms=lags,
        refused=len(refused),
        wall_start=wall_start,
    )
    last_sent = time.perf_counter()
    acks.still_refused = await resend(session, url, events, refused, rate=rate)
    return Sent(acks, threads, start, last_sent)


async def resend(
    session: aiohttp.ClientSession, url: str, events: Events, refused: list[tuple[str, str]], *, rate: int
) -> int:
    """What Slack does with an event that got no 200: send it again (`X-Slack-Retry-Num`), up to three times,
    spread out as the originals were (Slack waits about a minute, then five; here 5, 15 and 30 s). Returns
    how many were refused every time: those Slack gives up on."""
    for pause in RETRY_PAUSES_SECONDS:
        if not refused:
            break
        await asyncio.sleep(pause)
        tasks = []
        start = time.perf_counter()
        for i, (_, body) in enumerate(refused):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(session, url, body, retry=True)))
        outcomes = await asyncio.gather(*tasks)
        events.acked += [event for event, (_, error) in zip(refused, outcomes, strict=True) if error is None]
        refused = [event for event, (_, error) in zip(refused, outcomes, strict=True) if error is not None]
    return len(refused)


def tally(replies: Replies, threads: dict[str, float], *, drained: bool = True) -> Tally:
    replies.poll()
    counts = {ts: len(replies.threads.get(ts, ())) for ts in threads}
    once = [ts for ts, count in counts.items() if count == 1]
    return Tally(
        unique=len(threads),
        answered=len(once),
        missing=sum(1 for count in counts.values() if count == 0),
        doubled=sum(1 for count in counts.values() if count > 1),
        stray=sum(len(posts) for thread, posts in replies.threads.items() if thread not in threads),
        apologies=sum(1 for ts in once if replies.threads[ts][0][1].startswith(SORRY[:40])),
        staff_posts=replies.staff_posts,
        answer_s=[replies.threads[ts][0][0] - sent for ts, sent in threads.items() if ts in replies.threads],
        drained=drained,
    )


@dataclass
class RateRun:
    """One open-loop run against one set-up: acks, then the replies once the backlog drained, and the CPU."""

    setup: str
    acks: Acks
    tally: Tally
    span_s: float  # first request → last reply
    drain_s: float  # last request → last reply (0 when nothing was answered)
    cpu: CpuSample  # over the run and its drain
    load: str  # load average at the end

    @property
    def label(self) -> str:
        return f"{self.acks.rate}, retries only" if self.acks.replay else str(self.acks.rate)

    @property
    def answers_per_second(self) -> float:
        return self.tally.answered / self.span_s if self.span_s > 0 else 0.0


@contextlib.contextmanager
def _no_pauses() -> Iterator[None]:
    """No garbage collection in the sending process while it sends: with a model and 100k-chunk corpora
    loaded earlier in `python -m bench`, a full collection here stalls the sender and the fake for ~0.5 s,
    which would be charged to the bot."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
