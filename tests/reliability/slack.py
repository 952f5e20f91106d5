"""Slack as the reliability tier plays it: signed message events sent the way Slack sends them (a retry
of an unacknowledged event carries the same body and `X-Slack-Retry-Num`), and the replies the bot
posted, read from the fake Web API's recorded `chat.postMessage` calls and matched to the events."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.signature import SignatureVerifier

from handlers.core import SORRY
from handlers.decisions import decision_id_for
from tests.fakes.slack_api import Call, FakeSlack

SECRET = "reliability-signing-secret"
HOME = "T0HOME"  # the installing team (FakeSlack's auth.test says so)
CUSTOMER_TEAM = "T0ACME"
CHANNEL = "C0RELIABLE"
STAFF_CHANNEL = "C0STAFF"
ORG = "acme"
# Help-centre questions the sample knowledge base answers (none starts a workflow that needs approval)
QUESTIONS = (
    "How long does standard shipping take?",
    "Do you ship to Canada?",
    "What is your return policy?",
    "How do I reset my password?",
    "My smart plug keeps going offline",
    "What does error E118 mean?",
    "How much is Acme Plus per year?",
    "Can I pay with PayPal?",
    "How do I turn on two-factor authentication?",
    "What are the API rate limits?",
    "How do I verify a webhook signature?",
    "Where can I download my invoice?",
    "The firmware update is stuck",
    "How do I factory reset the hub?",
    "Do you charge VAT for EU businesses?",
    "Which items cannot be returned?",
)
ACK_TIMEOUT = 3.0  # Slack gives up on an ack after 3 s and retries the event
_numbers = itertools.count(1)
_run = random.randrange(1, 9_000_000)  # ts unique across runs too, though every test starts empty


@dataclass(frozen=True)
class Message:
    """One customer message event: a new thread (`thread_ts` None) or a follow-up in one."""

    ts: str
    thread_ts: str | None
    text: str
    body: str  # the signed JSON, identical on every retry

    @property
    def thread(self) -> str:
        return self.thread_ts or self.ts

    @property
    def event_key(self) -> str:
        return f"msg:{CHANNEL}:{self.ts}"

    @property
    def seen_key(self) -> str:
        """The Redis key the ack path writes once a retry of this event has been stored."""
        return f"seen:slack:{self.event_key}"

    @property
    def decision_id(self) -> str:
        return decision_id_for("slack", self.event_key)


def message(text: str, *, thread_ts: str | None = None) -> Message:
    number = next(_numbers)
    ts = f"{1_700_000_000 + _run * 10 + number // 1_000_000}.{number % 1_000_000:06d}"
    event: dict[str, Any] = {
        "type": "message",
        "channel": CHANNEL,
        "channel_type": "channel",
        "user": f"U0CUST{number % 40:03d}",
        "user_team": CUSTOMER_TEAM,
        "team": CUSTOMER_TEAM,
        "text": text,
        "ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    body = {
        "type": "event_callback",
        "team_id": HOME,
        "api_app_id": "A0APP",
        "event_id": f"EvREL{_run:07d}{number:07d}",
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": HOME, "user_id": "U0BOT", "is_bot": True}],
        "is_ext_shared_channel": True,
    }
    return Message(ts, thread_ts, text, json.dumps(body))


def new_threads(count: int, *, seed: int) -> list[Message]:
    rng = random.Random(seed)
    return [message(f"{rng.choice(QUESTIONS)} (thread {number})") for number in range(count)]


@dataclass
class Attempt:
    url: str
    retry: int
    status: int | None  # None: no HTTP answer (refused, reset, or no ack within ACK_TIMEOUT)
    sent_at: float
    answered_at: float


@dataclass
class SlackClient:
    """Sends events as Slack does, and keeps every attempt and its answer."""

    session: aiohttp.ClientSession
    attempts: dict[str, list[Attempt]] = field(default_factory=dict)  # ts → every request for it

    async def send(self, url: str, msg: Message, *, retry: int = 0) -> int | None:
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=msg.body) or "",
        }
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        started = time.monotonic()
        status: int | None = None
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            async with self.session.post(
                url, data=msg.body.encode(), headers=headers, timeout=aiohttp.ClientTimeout(total=ACK_TIMEOUT)
            ) as response:
                await response.read()
                status = response.status
        self.attempts.setdefault(msg.ts, []).append(Attempt(url, retry, status, started, time.monotonic()))
        return status

    async def deliver(
        self, msg: Message, urls: Callable[[int], str], *, retry: int = 0, pause: float = 0.5, limit: float = 90.0
    ) -> None:
        """Until acknowledged: attempt n goes to `urls(n)`, each retry numbered as Slack numbers them (Slack
        waits a minute and then five; a test cannot, so it waits `pause`)."""
        deadline = time.monotonic() + limit
        while await self.send(urls(retry), msg, retry=retry) != 200:
            if time.monotonic() > deadline:
                raise AssertionError(f"event {msg.ts} was never acknowledged: {self.attempts[msg.ts]}")
            retry += 1
            await asyncio.sleep(pause)

    def acked(self, msg: Message) -> bool:
        return any(attempt.status == 200 for attempt in self.attempts.get(msg.ts, []))

    def statuses(self) -> Counter[int | None]:
        return Counter(attempt.status for attempts in self.attempts.values() for attempt in attempts)


async def paced(messages: Iterable[Message], rate: float, send: Callable[[Message], Any]) -> list[asyncio.Task[Any]]:
    """Open loop: message i leaves at start + i / rate whatever became of the ones before it."""
    tasks = []
    start = time.monotonic()
    for number, msg in enumerate(messages):
        delay = start + number / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(msg)))
    return tasks


# --- what the bot posted --------------------------------------------------------------------------


def decision_of(call: Call) -> str | None:
    """The decision a reply belongs to: its buttons carry the decision id (answers and "not sure" do;
    an apology has no buttons)."""
    raw = call.params.get("blocks")
    blocks = json.loads(raw) if isinstance(raw, str) else raw or []
    for block in blocks:
        for element in block.get("elements") or []:
            value = element.get("value") if isinstance(element, dict) else None
            if isinstance(value, str) and value.startswith("dec_"):
                return value
    return None


def posts(fake: FakeSlack) -> int:
    """How many messages the bot has posted so far: a test counts only what comes after."""
    return len(fake.calls_to("chat.postMessage"))


def thread_replies(fake: FakeSlack, *, since: int = 0) -> dict[str, list[Call]]:
    """Every reply in the customer channel after the first `since` posts, by thread, in the order the fake
    received them."""
    threads: dict[str, list[Call]] = {}
    for call in fake.calls_to("chat.postMessage")[since:]:
        if call.params.get("channel") == CHANNEL and call.error is None:
            threads.setdefault(str(call.params.get("thread_ts") or ""), []).append(call)
    return threads


@dataclass
class Tally:
    """How the acknowledged events were answered: each should have exactly one reply in its thread."""

    events: int
    answered_once: int
    lost: list[str]  # ts of events with no reply
    doubled: list[str]  # ts of events with more than one
    stray: int  # replies in threads no event of this test started
    apologies: int
    apologies_without_handoff: list[str]
    out_of_order: list[str]  # threads whose replies came in a different order than the questions
    replies_by_event: dict[str, int]
    stray_threads: list[str]  # a few threads that got replies but were started by no event of this test
    unmatched: int  # replies in the events' threads that name none of them (counted against their thread)

    def line(self) -> str:
        return (
            f"{self.events} events: {self.answered_once} answered once, lost {len(self.lost)}, "
            f"doubled {len(self.doubled)}, stray {self.stray}, not naming their event {self.unmatched}, "
            f"apologies {self.apologies} "
            f"(without hand-off {len(self.apologies_without_handoff)}), threads out of order "
            f"{len(self.out_of_order)}"
        )

    def assert_exactly_once(self) -> None:
        assert not self.lost, f"lost {len(self.lost)} acknowledged event(s): {self.lost[:10]}"
        assert not self.doubled, f"{len(self.doubled)} event(s) answered more than once: {self.doubled[:10]}"
        assert self.stray == 0, f"{self.stray} reply(ies) that belong to no event, e.g. in {self.stray_threads}"
        assert not self.apologies_without_handoff, f"apologies with no hand-off: {self.apologies_without_handoff}"
        assert self.answered_once == self.events


def tally(fake: FakeSlack, messages: list[Message], apology_handoffs: set[str], *, since: int = 0) -> Tally:
    """Match every reply to the event it answers.

    A reply with a decision id (its buttons carry it) belongs to that event. An apology carries none: it
    belongs to the event whose decision has an apology hand-off (`apology_handoffs`, decision ids from
    `ledger.apology_handoffs`), the earliest such event of its thread not yet matched to an apology. Any
    other reply in a thread counts against the thread (see below); replies elsewhere are stray."""
    by_decision = {msg.decision_id: msg for msg in messages}
    by_thread: dict[str, list[Message]] = {}
    for msg in messages:
        by_thread.setdefault(msg.thread, []).append(msg)
    counts: Counter[str] = Counter({msg.ts: 0 for msg in messages})
    stray = apologies = 0
    unbacked: list[str] = []
    out_of_order: list[str] = []
    stray_threads: list[str] = []
    unmatched = 0
    for thread, calls in thread_replies(fake, since=since).items():
        ours = by_thread.get(thread)
        if ours is None:
            stray += len(calls)
            stray_threads.append(thread)
            continue
        position = {msg.ts: index for index, msg in enumerate(ours)}
        apologised: Counter[str] = Counter()
        sequence: list[int] = []
        loose = 0
        for call in calls:
            decision = decision_of(call)
            text = str(call.params.get("text") or "")
            owner = by_decision.get(decision) if decision else None
            if owner is None and text.startswith(SORRY[:40]):
                apologies += 1
                candidates = [m for m in ours if m.decision_id in apology_handoffs and not apologised[m.ts]]
                if not candidates:
                    unbacked.append(thread)
                    candidates = [m for m in ours if not counts[m.ts]] or ours
                owner = candidates[0]
                apologised[owner.ts] += 1
            if owner is None or owner.thread != thread:
                loose += 1
                continue
            counts[owner.ts] += 1
            sequence.append(position[owner.ts])
        # a reply tied to no event of this thread (no decision id of ours, not an apology) still counts: it goes to
        # the thread's earliest event with the fewest replies, so lost and doubled are judged per thread then
        for _ in range(loose):
            fewest = min(counts[msg.ts] for msg in ours)
            counts[next(msg.ts for msg in ours if counts[msg.ts] == fewest)] += 1
        unmatched += loose
        if sequence != sorted(sequence):
            out_of_order.append(thread)
    return Tally(
        events=len(messages),
        answered_once=sum(1 for count in counts.values() if count == 1),
        lost=[ts for ts, count in counts.items() if count == 0],
        doubled=[ts for ts, count in counts.items() if count > 1],
        stray=stray,
        apologies=apologies,
        apologies_without_handoff=unbacked,
        out_of_order=out_of_order,
        replies_by_event=dict(counts),
        stray_threads=stray_threads[:5],
        unmatched=unmatched,
    )


async def settled(
    fake: FakeSlack,
    messages: list[Message],
    waiting: Callable[[], Any],
    *,
    limit: float = 120.0,
    quiet: float = 2.0,
    since: int = 0,
) -> None:
    """Until every event has a reply in its thread, nothing is waiting in PostgreSQL (`waiting()` → count)
    and no new reply came for `quiet` seconds (a double would come late); or `limit` passes."""
    deadline = time.monotonic() + limit
    threads = {msg.thread for msg in messages}
    seen, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        replies = thread_replies(fake, since=since)
        total = sum(len(calls) for calls in replies.values())
        if total != seen:
            seen, last_change = total, time.monotonic()
        answered = sum(len(replies.get(thread, [])) for thread in threads)
        if answered >= len(messages) and time.monotonic() - last_change >= quiet and not await waiting():
            return
        await asyncio.sleep(0.2)
