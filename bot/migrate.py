"""Schema migrations: numbered SQL files applied once each, under an advisory lock."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from procrastinate.schema import SchemaManager
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process of this application.
_LOCK_ID = 0x5B07_0001


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MigrationState:
    migration: Migration
    applied_at: datetime | None


class MigrationError(Exception):
    """A migration failed or the database holds one this code does not know."""


def available_migrations() -> list[Migration]:
    folder = resources.files("bot") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    return sorted(found, key=lambda migration: migration.version)


_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


async def migrate(pool: AsyncConnectionPool[Any]) -> list[Migration]:
    """Apply pending migrations; safe when several processes start at once."""
    applied: list[Migration] = []
    async with pool.connection() as conn:
        # Autocommit: each migration is its own real transaction, committed before the lock is
        # released, so a process waiting on the lock always sees what the holder applied.
        await conn.set_autocommit(True)
        await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            await conn.execute(_CREATE_LEDGER)
            done = {row[0] for row in await (await conn.execute("SELECT version FROM schema_migrations")).fetchall()}
            for migration in available_migrations():
                if migration.version in done:
                    continue
                log.info("applying migration %04d_%s", migration.version, migration.name)
                try:
                    async with conn.transaction():
                        await conn.execute(migration.sql.encode())
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                except Exception as exc:
                    raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
                applied.append(migration)
            await _ensure_queue_schema(conn)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
            await conn.set_autocommit(False)
    return applied


async def _ensure_queue_schema(conn: Any) -> None:
    """The turn queue's own tables (procrastinate), applied from the installed package the first time.

    procrastinate is pinned to one minor version; a later version's schema migrations go here."""
    found = await (await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).fetchone()
    if found and found[0]:
        return
    log.info("applying the turn queue's schema (procrastinate)")
    try:
        async with conn.transaction():
            await conn.execute(SchemaManager.get_schema().encode())
    except Exception as exc:
        raise MigrationError(f"the turn queue's schema (procrastinate) failed: {exc}") from exc


async def status(pool: AsyncConnectionPool[Any]) -> list[MigrationState]:
    async with pool.connection() as conn:
        await conn.execute(_CREATE_LEDGER)
        rows = await (await conn.execute("SELECT version, applied_at FROM schema_migrations")).fetchall()
    applied_at = {version: when for version, when in rows}
    known = available_migrations()
    unknown = set(applied_at) - {migration.version for migration in known}
    if unknown:
        raise MigrationError(
            f"the database has migrations {sorted(unknown)} this version does not know; upgrade supportbot"
        )
    return [MigrationState(migration, applied_at.get(migration.version)) for migration in known]
