"""Query latency of `HybridSearcher.search` per mode, with the vector supplied (no model in the loop)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from psycopg import sql

from bench.synthetic import DIMENSION, Floats, Query
from knowledge.embedder import Vectors
from knowledge.models import SearchMode
from knowledge.search import HybridSearcher, SearchConfig
from knowledge.store import Pool

MODES = (SearchMode.DENSE, SearchMode.FTS, SearchMode.HYBRID)


class QueryEmbedder:
    """Returns the vector the benchmark set, so latency measures the database and fusion only."""

    def __init__(self) -> None:
        self.vector: Floats = np.zeros(DIMENSION, dtype=np.float32)

    @property
    def name(self) -> str:
        return "bench/synthetic-384"

    @property
    def dimension(self) -> int:
        return DIMENSION

    async def embed(self, texts: list[str]) -> Vectors:
        return np.repeat(self.vector[None, :], len(texts), axis=0)


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p95: float
    p99: float
    mean: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> Percentiles:
        data = np.asarray(values, dtype=np.float64)
        p50, p95, p99 = np.percentile(data, [50, 95, 99])
        return cls(float(p50), float(p95), float(p99), float(data.mean()), float(data.max()))


@dataclass(frozen=True)
class ModeLatency:
    size: int
    mode: SearchMode
    millis: list[float]
    limit: int

    @property
    def stats(self) -> Percentiles:
        return Percentiles.of(self.millis)


async def time_mode(
    searcher: HybridSearcher,
    embedder: QueryEmbedder,
    queries: list[Query],
    mode: SearchMode,
    *,
    limit: int,
    warmup: list[Query],
) -> list[float]:
    """Milliseconds per `search` call, one call at a time, after the warm-up queries."""
    for query in warmup:
        embedder.vector = query.vector
        await searcher.search(query.text, org=query.org, mode=mode, limit=limit)
    millis: list[float] = []
    for query in queries:
        embedder.vector = query.vector
        started = time.perf_counter()
        await searcher.search(query.text, org=query.org, mode=mode, limit=limit)
        millis.append((time.perf_counter() - started) * 1000)
    return millis


# Rows holding at least one of the question's lexemes: how common the query's words are in the
# corpus, whatever the searcher then does with them.
_ANY_TERM_MATCHES = """
    SELECT count(*) FROM kb_chunks
    WHERE (org IS NULL OR org = %(org)s)
      AND tsv @@ (SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery
                  FROM unnest(tsvector_to_array(to_tsvector('english', %(text)s))) AS lexeme)
"""


async def fts_matches(pool: Pool, queries: list[Query]) -> list[int]:
    """Visible rows containing any word of each query (what an any-term full-text match must rank)."""
    counts: list[int] = []
    async with pool.connection() as conn:
        for query in queries:
            cur = await conn.execute(_ANY_TERM_MATCHES, {"org": query.org, "text": query.text})
            row = await cur.fetchone()
            counts.append(int(row[0]) if row else 0)
    return counts


class _Recorder:
    """Stands in for the pool and its connection: keeps the statements a searcher sends, returns no rows."""

    def __init__(self) -> None:
        self.statements: list[tuple[Any, Any]] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[_Recorder]:
        yield self

    async def execute(self, query: Any, params: Any = None) -> _Recorder:
        self.statements.append((query, params))
        return self

    async def fetchall(self) -> list[tuple[Any, ...]]:
        return []

    async def fetchone(self) -> tuple[Any, ...] | None:
        return None


_VECTOR_LITERAL = re.compile(r"'\[[^\]']{40,}\]'::vector")


def _explained(statement: Any) -> Any:
    if isinstance(statement, str):
        return "EXPLAIN (ANALYZE, BUFFERS) " + statement
    if isinstance(statement, bytes):
        return b"EXPLAIN (ANALYZE, BUFFERS) " + statement
    return sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + statement


async def explain(
    pool: Pool, embedder: QueryEmbedder, config: SearchConfig, query: Query, mode: SearchMode, *, limit: int
) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of exactly what `HybridSearcher.search` sends, on a pool connection."""
    recorder = _Recorder()
    embedder.vector = query.vector
    await HybridSearcher(cast(Pool, recorder), embedder, config).search(
        query.text, org=query.org, mode=mode, limit=limit
    )
    plans: list[str] = []
    async with pool.connection() as conn:
        for sent, params in recorder.statements:
            rows = await (await conn.execute(_explained(sent), params)).fetchall()
            plans.append("\n".join(_VECTOR_LITERAL.sub("'[…]'::vector", str(row[0])) for row in rows))
        await conn.rollback()
    return "\n\n".join(plans)


async def prepared_plans(pool: Pool) -> tuple[int, int, int]:
    """(statements, generic plans, custom plans) psycopg prepared on the benchmark connection."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*), coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0) "
            "FROM pg_prepared_statements"
        )
        row = await cur.fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)


def nearest(millis: list[float], target: float) -> int:
    """Index of the measurement closest to `target` (to explain a typical or a slow query)."""
    return int(np.argmin(np.abs(np.asarray(millis) - target)))
