"""A PostgreSQL without pgvector is refused at start-up in one sentence, through the real command.

The machine's own PostgreSQL 15 (127.0.0.1:5432, trust auth) has no pgvector; each test gets a fresh
database on it, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.cli.test_cli import run

pytestmark = pytest.mark.cli

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
NO_VECTOR = (
    "This PostgreSQL server has no `vector` extension; install pgvector on it "
    "or unset DATABASE_URL to use the embedded server."
)


@pytest.fixture
def plain_database() -> Iterator[str]:
    """A fresh database on a PostgreSQL server that has no pgvector; skipped only when there is none."""
    try:
        admin = psycopg.connect(SERVER, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 to test a server without pgvector against ({exc})")
    with admin:
        if admin.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone():
            pytest.skip("the PostgreSQL on 127.0.0.1:5432 has pgvector: it cannot show the missing-pgvector error")
        name = f"supportbot_novector_{uuid.uuid4().hex[:12]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("command", [("db", "migrate"), ("search", "How do I reset my password?")])
def test_a_server_without_pgvector_is_one_sentence_at_start_up(
    tmp_path: Path, plain_database: str, command: tuple[str, ...]
) -> None:
    result = run(tmp_path, *command, env={"DATABASE_URL": plain_database}, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip() == f"error: {NO_VECTOR}", result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""
    # the refusal comes before anything is written: the database is as it was made
    with psycopg.connect(plain_database) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert tables == (0,)
