"""Recall@10 of the dense path against exact (brute-force numpy) search over the same rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pgvector import Vector

from bench.latency import QueryEmbedder
from bench.synthetic import Corpus, Ints, Query
from knowledge.models import SearchMode
from knowledge.search import HybridSearcher
from knowledge.store import Pool

K = 10
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


def exact_top(corpus: Corpus, rows: Ints, vector: np.ndarray, k: int = K) -> set[int]:
    """Database ids of the k rows (among `rows`) with the highest cosine similarity."""
    similarity = corpus.vectors[rows] @ vector
    best = np.argpartition(-similarity, k)[:k] if len(rows) > k else np.arange(len(rows))
    return {int(rows[i]) + 1 for i in best}


async def measure(
    pool: Pool,
    searcher: HybridSearcher,
    embedder: QueryEmbedder,
    corpus: Corpus,
    queries: list[Query],
    ef: int,
) -> Recall:
    public = np.flatnonzero(corpus.chunk_org == -1)
    visible = {query.org_index: corpus.visible(query.org_index) for query in queries}
    index_hits = search_hits = 0
    async with pool.connection() as conn:
        plan = await (
            await conn.execute(b"EXPLAIN " + _DENSE_PUBLIC.encode(), {"vec": Vector(queries[0].vector), "k": K})
        ).fetchall()
        uses_index = any("kb_chunks_embedding_public" in str(row[0]) for row in plan)
        for query in queries:
            rows = await (await conn.execute(_DENSE_PUBLIC, {"vec": Vector(query.vector), "k": K})).fetchall()
            index_hits += len({int(row[0]) for row in rows} & exact_top(corpus, public, query.vector))
        await conn.rollback()
    for query in queries:
        embedder.vector = query.vector
        results = await searcher.search(query.text, org=query.org, mode=SearchMode.DENSE, limit=K)
        truth = exact_top(corpus, visible[query.org_index], query.vector)
        search_hits += len({result.chunk_id for result in results} & truth)
    total = K * len(queries)
    return Recall(
        size=corpus.size,
        queries=len(queries),
        ef_search=ef,
        hnsw_public=index_hits / total,
        search_dense=search_hits / total,
        uses_index=uses_index,
    )
