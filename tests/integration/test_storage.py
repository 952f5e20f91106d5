"""Storage start-up: migrations under a lock, clear failures for unusable servers, Redis."""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from bot.migrate import available_migrations, migrate, status
from bot.services import Services
from bot.settings import Settings, load_settings
from bot.storage import StorageError, database_url, open_pool, open_redis

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def empty_database(settings: Settings) -> Any:
    """A brand-new database on the same server, dropped afterwards."""
    admin_url = database_url(settings)
    name = f"mig_{uuid.uuid4().hex[:10]}"
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


async def test_two_processes_migrating_at_once_apply_each_migration_once(empty_database: str) -> None:
    pools = [AsyncConnectionPool(empty_database, min_size=1, max_size=2, open=False) for _ in range(3)]
    for pool in pools:
        await pool.open()
    try:
        results = await asyncio.gather(*(migrate(pool) for pool in pools))
        applied = sorted(len(result) for result in results)
        assert applied == [0, 0, len(available_migrations())]
        states = await status(pools[0])
        assert all(state.applied_at is not None for state in states)
        async with pools[0].connection() as conn:
            count = await (await conn.execute("SELECT count(*) FROM schema_migrations")).fetchone()
        assert count == (len(available_migrations()),)
    finally:
        for pool in pools:
            await pool.close()


async def test_unreachable_database_gives_one_clear_sentence(tmp_path: Any) -> None:
    settings = load_settings(
        supportbot_home=tmp_path, database_url=f"postgresql://nobody:secret@127.0.0.1:{_free_port()}/x"
    )
    with pytest.raises(StorageError) as caught:
        async with open_pool(settings, connect_timeout=3):
            pass
    message = str(caught.value)
    assert message.startswith("Cannot reach PostgreSQL at DATABASE_URL")
    assert "secret" not in message


async def _plain_postgres_url() -> str | None:
    url = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        async with await psycopg.AsyncConnection.connect(url, connect_timeout=2) as conn:
            row = await (await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name='vector'")).fetchone()
    except psycopg.OperationalError:
        return None
    return None if row else url


async def test_server_without_pgvector_is_refused_plainly(tmp_path: Any) -> None:
    url = await _plain_postgres_url()
    if url is None:
        pytest.skip("no PostgreSQL without pgvector on 127.0.0.1:5432 on this machine")
    settings = load_settings(supportbot_home=tmp_path, database_url=url)
    with pytest.raises(StorageError, match="no `vector` extension"):
        async with open_pool(settings, connect_timeout=3):
            pass


async def test_redis_embedded_works_and_unreachable_is_clear(settings: Settings, tmp_path: Any) -> None:
    async with open_redis(settings) as redis:
        await redis.set("supportbot:test", "1", ex=10)
        assert await redis.get("supportbot:test") == b"1"
    broken = load_settings(supportbot_home=tmp_path, redis_url=f"redis://127.0.0.1:{_free_port()}/0")
    with pytest.raises(StorageError, match="Cannot reach Redis at REDIS_URL"):
        async with open_redis(broken, connect_timeout=2):
            pass


async def test_pool_has_pgvector_registered_and_ef_search_set(services: Services) -> None:
    async with services.pool.connection() as conn:
        row = await (await conn.execute("SHOW hnsw.ef_search")).fetchone()
        assert row == (str(services.settings.search_ef_search),)
        vector = await (await conn.execute("SELECT '[1,2,3]'::vector")).fetchone()
    assert vector is not None and list(vector[0].to_list()) == [1.0, 2.0, 3.0]
