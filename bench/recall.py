"""Recall@10 of the dense path against exact (brute-force numpy) search over the same rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pgvector import Vector
from psycopg import AsyncConnection, sql

from bench.latency import QueryEmbedder
from bench.synthetic import Corpus, Floats, Query
from knowledge.models import SearchMode
from knowledge.search import HybridSearcher
from knowledge.store import Pool

K = 10
SWEEP_LOW = 40  # pgvector's default ef_search
# The query the partial HNSW index answers (the same text as the searcher's public dense branch).
_DENSE_PUBLIC = (
    "SELECT id FROM kb_chunks WHERE org IS NULL AND embedding IS NOT NULL ORDER BY embedding <=> %(vec)s LIMIT %(k)s"
)


@dataclass(frozen=True)
class Recall:
    size: int
    queries: int
    ef_search: int
    hnsw_public: float  # the index path alone, public chunks
    search_dense: float  # HybridSearcher DENSE, public + the asking org's chunks
    uses_index: bool
    sweep: dict[int, float]  # HNSW recall@10 (public) by hnsw.ef_search


async def _set_ef_search(conn: AsyncConnection[Any], value: int) -> None:
    await conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(value)))
    await conn.commit()


def exact_top(corpus: Corpus, visible: npt.NDArray[np.bool_], vector: Floats, k: int = K) -> set[int]:
    """Database ids of the k visible rows with the highest cosine similarity (rows are unit vectors)."""
    similarity = np.where(visible, corpus.vectors @ vector, -np.inf)
    best = np.argpartition(-similarity, k)[:k]
    return {int(i) + 1 for i in best if visible[i]}


async def measure(
    pool: Pool, searcher: HybridSearcher, embedder: QueryEmbedder, corpus: Corpus, queries: list[Query], ef: int
) -> Recall:
    public = corpus.chunk_org == -1
    visible = {query.org_index: public | (corpus.chunk_org == query.org_index) for query in queries}
    truths = [exact_top(corpus, public, query.vector) for query in queries]
    total = K * len(queries)
    sweep: dict[int, float] = {}
    async with pool.connection() as conn:
        plan = await (
            await conn.execute(b"EXPLAIN " + _DENSE_PUBLIC.encode(), {"vec": Vector(queries[0].vector), "k": K})
        ).fetchall()
        uses_index = any("kb_chunks_embedding_public" in str(row[0]) for row in plan)
        for value in sorted({SWEEP_LOW, ef, ef * 2}):
            await _set_ef_search(conn, value)
            hits = 0
            for query, truth in zip(queries, truths, strict=True):
                cur = await conn.execute(_DENSE_PUBLIC, {"vec": Vector(query.vector), "k": K})
                hits += len({int(row[0]) for row in await cur.fetchall()} & truth)
            sweep[value] = hits / total
        await _set_ef_search(conn, ef)  # the pool's connections keep the configured value
    search_hits = 0
    for query in queries:
        embedder.vector = query.vector
        results = await searcher.search(query.text, org=query.org, mode=SearchMode.DENSE, limit=K)
        truth = exact_top(corpus, visible[query.org_index], query.vector)
        search_hits += len({result.chunk_id for result in results} & truth)
    return Recall(
        size=corpus.size,
        queries=len(queries),
        ef_search=ef,
        hnsw_public=sweep[ef],
        sweep=sweep,
        search_dense=search_hits / total,
        uses_index=uses_index,
    )
