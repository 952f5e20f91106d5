"""Query latency of `HybridSearcher.search` per mode, with the vector supplied (no model in the loop)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from pgvector import Vector

from bench.synthetic import DIMENSION, Floats, Query
from knowledge.embedder import Vectors
from knowledge.models import SearchMode
from knowledge.search import HybridSearcher, SearchConfig, _candidates, _scored, lexical_query
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


async def fts_matches(pool: Pool, queries: list[Query]) -> list[int]:
    """Rows each query's full-text condition matches among the rows its org may see."""
    counts: list[int] = []
    async with pool.connection() as conn:
        for query in queries:
            row = await (
                await conn.execute(
                    "SELECT count(*) FROM kb_chunks WHERE tsv @@ websearch_to_tsquery('english', %s) "
                    "AND (org IS NULL OR org = %s)",
                    (lexical_query(query.text), query.org),
                )
            ).fetchone()
            counts.append(int(row[0]) if row else 0)
    return counts


def search_sql(mode: SearchMode) -> str:
    """The exact statement `HybridSearcher.search` sends (public + own org)."""
    return str(_scored(_candidates(mode, include_public=True)))


def search_params(query: Query, config: SearchConfig, limit: int) -> dict[str, Any]:
    """Mirrors the parameters `HybridSearcher.search` binds."""
    return {
        "vec": Vector(query.vector),
        "text": lexical_query(query.text),
        "org": query.org,
        "k": max(config.candidates, limit),
        "public": True,
    }


async def explain(pool: Pool, query: Query, mode: SearchMode, config: SearchConfig, limit: int) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of one search statement, run on a pool connection (so ef_search applies)."""
    statement = "EXPLAIN (ANALYZE, BUFFERS) " + search_sql(mode)
    async with pool.connection() as conn:
        rows = await (await conn.execute(statement.encode(), search_params(query, config, limit))).fetchall()
        await conn.rollback()
    return "\n".join(str(row[0]) for row in rows)


async def prepared_plans(pool: Pool) -> list[tuple[str, int, int]]:
    """(statement start, generic plans, custom plans) of the server-side prepared statements psycopg made."""
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT regexp_replace(left(statement, 160), '\\s+', ' ', 'g'), generic_plans, custom_plans "
                "FROM pg_prepared_statements ORDER BY generic_plans + custom_plans DESC"
            )
        ).fetchall()
    return [(str(row[0]), int(row[1]), int(row[2])) for row in rows]


def nearest(millis: list[float], target: float) -> int:
    """Index of the measurement closest to `target` (to explain a typical or a slow query)."""
    return int(np.argmin(np.abs(np.asarray(millis) - target)))
