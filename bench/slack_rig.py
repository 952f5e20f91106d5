"""The Slack ack benchmark's rig: `supportbot run` in a subprocess, signed events, and the replies it posts.

The bot talks to a fake Slack Web API (`tests/fakes/slack_api.py`) in the benchmark's process; every
`chat.postMessage` it makes is recorded there, which is how replies are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bench.core import QUESTIONS
from tests.fakes.slack_api import FakeSlack

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
SUPPORTBOT = [sys.executable, "-c", "from bot.cli import main; main()"]
SECRET = "bench-signing-secret"
HOME = "T0HOME"  # the installing team (staff)
CUSTOMER_TEAM = "T0ACME"
CHANNEL = "C0BENCH"
STAFF_CHANNEL = "C0STAFF"
# Each message text is new, as real messages are: the bot's embedding cache must not answer for the model.
OPENERS = ("", "Hi,", "Hello!", "Hey team,", "Good morning,", "Quick question:")
CLOSERS = ("", "Thanks!", "Thank you.", "Cheers", "Thanks in advance.", "Appreciate it!")
NAMES = ("", "Sam", "Priya", "Jonas", "Mei", "Olu", "Ana", "Tom", "Lena", "Raj", "Ines", "Kofi", "Yuki")
LOGGED = re.compile(r"^\S+ \S+ (?P<level>WARNING|ERROR|CRITICAL) (?P<logger>\S+): (?P<message>.*)")


def load_average() -> str:
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(home: Path, base_url: str) -> dict[str, str]:
    """Ours, without settings that would point the bot elsewhere, plus the bench's Slack set-up."""
    keep = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(("SLACK_", "LLM_", "TEAMS_", "MICROSOFT_APP_"))
        and key.upper() not in {"DATABASE_URL", "REDIS_URL", "SUPPORTBOT_HOME", "PORT", "HOST"}
    }
    return keep | {
        "SUPPORTBOT_HOME": str(home),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_BASE_URL": base_url,
        "SLACK_STAFF_CHANNEL": STAFF_CHANNEL,
        "HF_HUB_OFFLINE": "1",
        "NO_COLOR": "1",
    }


async def supportbot(env: dict[str, str], *args: str) -> None:
    """One `supportbot` command to completion; its output only if it fails."""
    process = await asyncio.create_subprocess_exec(
        *SUPPORTBOT, *args, cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"supportbot {' '.join(args)} failed:\n{output.decode(errors='replace')[-3000:]}")


class Bot:
    """`supportbot run` in a subprocess, its output in a log file."""

    def __init__(self, env: dict[str, str], home: Path) -> None:
        self.env = env
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "supportbot-run.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, session: aiohttp.ClientSession, *, timeout: float = 120.0) -> None:  # noqa: ASYNC109
        with self.log_path.open("wb") as output:
            self.process = await asyncio.create_subprocess_exec(
                *SUPPORTBOT, "run", "--port", str(self.port), cwd=REPO, env=self.env, stdout=output, stderr=output
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.returncode is None:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with session.get(f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=5)) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.25)
        raise RuntimeError(f"supportbot run did not become healthy:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """utime + stime of the bot's process (all its threads; not PostgreSQL's or Redis's), from /proc."""
        assert self.process is not None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, characters: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def copy_log(self, target: Path) -> None:
        shutil.copyfile(self.log_path, target)

    def problems(self) -> list[str]:
        """Warnings and errors it logged, grouped with ids and numbers blanked, most frequent first."""
        kinds: Counter[str] = Counter()
        for line in self.log_tail(100_000_000).splitlines():
            found = LOGGED.match(line)
            if found:
                text = f"{found['level']} {found['logger']}: {found['message']}"
                kinds[re.sub(r"\S*\d\S*", "…", text)[:160]] += 1
        return [f"{count} × `{kind}`" for kind, count in kinds.most_common(8)]

    async def stop(self) -> None:
        """SIGINT (a clean shutdown), then SIGKILL after 20 s."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(self.process.wait(), 20)
        except TimeoutError:
            log.warning("supportbot run ignored SIGINT for 20 s; killing it")
            self.process.kill()
            await self.process.wait()


class Events:
    """New customer messages in the bench channel: unique event ids, timestamps and texts for the whole run."""

    def __init__(self, seed: int) -> None:
        self._numbers = itertools.count(1)
        texts = [
            " ".join(part for part in (opener, question, closer, f"– {name}" if name else "") if part)
            for opener, question, closer, name in itertools.product(OPENERS, QUESTIONS, CLOSERS, NAMES)
        ]
        random.Random(seed).shuffle(texts)
        self._texts = itertools.cycle(texts)
        self.history: list[tuple[str, str]] = []  # (ts, body) of every event made

    def next(self) -> tuple[str, str]:
        """(ts, JSON body) of a new `event_callback` from a Slack Connect customer."""
        number = next(self._numbers)
        ts = f"{1_800_000_000 + number}.000100"
        event = {
            "type": "message",
            "channel": CHANNEL,
            "channel_type": "channel",
            "user": f"U0CUST{number % 50:03d}",
            "user_team": CUSTOMER_TEAM,
            "team": CUSTOMER_TEAM,
            "text": next(self._texts),
            "ts": ts,
        }
        body = {
            "type": "event_callback",
            "team_id": HOME,
            "api_app_id": "A0APP",
            "event_id": f"EvBENCH{number:08d}",
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": HOME, "user_id": "U0BOT", "is_bot": True}],
            "is_ext_shared_channel": True,
        }
        self.history.append((ts, json.dumps(body)))
        return self.history[-1]


class Replies:
    """The fake's chat.postMessage calls since this watch began: which thread got replies, when, saying what."""

    def __init__(self, fake: FakeSlack) -> None:
        self._fake = fake
        self._seen = len(fake.calls_to("chat.postMessage"))
        self.threads: dict[str, list[tuple[float, str]]] = {}  # thread_ts → (seen at, text) per reply
        self.staff_posts = 0
        self.last_reply = 0.0

    def poll(self) -> None:
        calls = self._fake.calls_to("chat.postMessage")
        now = time.perf_counter()
        for call in calls[self._seen :]:
            channel = call.params.get("channel")
            if channel == CHANNEL:
                thread = str(call.params.get("thread_ts") or "")
                self.threads.setdefault(thread, []).append((now, str(call.params.get("text") or "")))
                self.last_reply = now
            elif channel == STAFF_CHANNEL:
                self.staff_posts += 1
        self._seen = len(calls)

    async def watch(self, stop: asyncio.Event) -> None:
        """Poll every 0.1 s until `stop`: the time a reply is seen is its arrival, give or take that."""
        while not stop.is_set():
            self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)

    async def drain(self, threads: dict[str, float], *, quiet: float, limit: float, grace: float = 2.0) -> bool:
        """Until every thread has a reply and `grace` more seconds passed (for doubles), or none came for
        `quiet` seconds (False), or `limit` passed (False)."""
        started = time.perf_counter()
        while time.perf_counter() - started < limit:
            self.poll()
            idle = time.perf_counter() - max(self.last_reply, started)
            if all(ts in self.threads for ts in threads) and idle >= grace:
                return True
            if idle >= quiet:
                return False
            await asyncio.sleep(0.1)
        return False


async def post(session: aiohttp.ClientSession, url: str, body: str, *, retry: bool) -> tuple[float, str | None]:
    """Sign and send one event: (milliseconds to the whole response, None or what went wrong)."""
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body) or "",
    }
    if retry:
        headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    started = time.perf_counter()
    try:
        async with session.post(url, data=body.encode(), headers=headers) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return (time.perf_counter() - started) * 1000, type(exc).__name__
    return (time.perf_counter() - started) * 1000, None if status == 200 else f"HTTP {status}"
