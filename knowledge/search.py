"""Hybrid search: HNSW cosine and PostgreSQL full-text candidates, fused in Python."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, LiteralString

from opentelemetry import trace
from pgvector import Vector

from knowledge.embedder import Embedder
from knowledge.fusion import FusionConfig, fuse, ranks
from knowledge.fusion_store import OrgFusionStore
from knowledge.models import Candidate, Freshness, SearchMode, SearchResult, freshness_on
from knowledge.store import Pool

tracer = trace.get_tracer("supportbot.knowledge")
# which candidate sets one search's SQL statement gathers (hybrid: both, fused afterwards)
_CANDIDATE_SETS = {SearchMode.HYBRID: "dense+lexical", SearchMode.DENSE: "dense", SearchMode.FTS: "lexical"}


@dataclass(frozen=True)
class SearchConfig:
    fusion: FusionConfig = field(default_factory=FusionConfig)
    candidates: int = 40
    stale_weight: float = 0.7
    lexical_max_df: int = 1000


_DENSE_PUBLIC: LiteralString = (
    "(SELECT id FROM kb_chunks WHERE org IS NULL AND embedding IS NOT NULL ORDER BY embedding <=> %(vec)s LIMIT %(k)s)"
)
_DENSE_ORG: LiteralString = (
    "(SELECT id FROM kb_chunks WHERE org = %(org)s AND embedding IS NOT NULL "
    "ORDER BY embedding <=> %(vec)s LIMIT %(k)s)"
)
# Each query term is weighted by its BM25 inverse document frequency, so a rare term (an error
# code) outweighs common ones. Terms found in more than `lexical_max_df` chunks still count
# towards scores but not towards finding candidates: ranking every row they match costs time
# that grows with the corpus (measured: p95 40 ms at 100k chunks with a cutoff of 5,000; 21 ms
# with 1,000) and changes the top ten almost never.
_TERMS: LiteralString = """
    terms AS (
        SELECT quote_literal(s.lexeme)::tsquery AS q,
               ln(1 + (n.chunks - s.df + 0.5) / (s.df + 0.5)) AS idf, s.df <= %(max_df)s AS selective
        FROM (SELECT DISTINCT unnest(tsvector_to_array(to_tsvector('english', %(text)s))) AS lexeme) words
        JOIN kb_term_stats s USING (lexeme) CROSS JOIN kb_corpus_stats n
    )"""
_LEXICAL: LiteralString = (
    "(SELECT c.id FROM kb_chunks c JOIN terms t ON c.tsv @@ t.q AND t.selective "
    "WHERE ((c.org IS NULL AND %(public)s) OR c.org = %(org)s) "
    "GROUP BY c.id ORDER BY sum(t.idf * ts_rank(c.tsv, t.q, 1)) DESC LIMIT %(k)s)"
)


def _candidates(mode: SearchMode, *, include_public: bool) -> LiteralString:
    dense: LiteralString = f"{_DENSE_PUBLIC} UNION {_DENSE_ORG}" if include_public else _DENSE_ORG
    if mode is SearchMode.DENSE:
        return dense
    if mode is SearchMode.FTS:
        return _LEXICAL
    return f"{dense} UNION {_LEXICAL}"


def _scored(candidates: LiteralString) -> LiteralString:
    # Every candidate gets both scores, so a chunk found by one mode is still judged by the other.
    return f"""
    WITH {_TERMS}, ids AS ({candidates})
    SELECT c.id, 1 - (c.embedding <=> %(vec)s),
           (SELECT sum(t.idf * ts_rank(c.tsv, t.q, 1)) FROM terms t WHERE c.tsv @@ t.q),
           d.id, d.doc_key, d.org, d.title, c.heading_path, c.body, d.source_url, d.owner,
           d.updated_at, d.review_by
    FROM ids JOIN kb_chunks c USING (id) JOIN kb_documents d ON d.id = c.document_id
    """


CandidateRows = list[tuple[Any, ...]]
"""What one question's query returned: every candidate with both raw scores, before any fusion."""


class HybridSearcher:
    def __init__(
        self,
        pool: Pool,
        embedder: Embedder,
        config: SearchConfig,
        *,
        today: Callable[[], date] = date.today,
        observe: Callable[[SearchMode, float], None] | None = None,
    ) -> None:
        self._pool = pool
        self._embedder = embedder
        self._config = config
        self._today = today
        self._observe = observe  # (mode, seconds) of every search: the metrics
        self.org_fusion = OrgFusionStore(pool)

    @property
    def default_fusion(self) -> FusionConfig:
        """The fusion of orgs without a calibrated one of their own (SEARCH_FUSION and friends)."""
        return self._config.fusion

    @property
    def embedder(self) -> Embedder:
        """The embedder questions are searched with; answers score their sentences with the same one."""
        return self._embedder

    async def search(
        self,
        question: str,
        *,
        org: str | None,
        mode: SearchMode = SearchMode.HYBRID,
        limit: int = 5,
        per_document: int | None = None,
        include_public: bool = True,
    ) -> list[SearchResult]:
        """Top chunks visible to `org`: its own documents and, unless excluded, public ones.

        `org=None` searches public documents only; another org's documents are never candidates.
        """
        if not question.strip():
            return []
        started = time.perf_counter()
        with tracer.start_as_current_span(f"retrieval {mode.value}") as span:
            span.set_attribute("supportbot.retrieval.mode", mode.value)
            results = await self._search(
                question, org=org, mode=mode, limit=limit, per_document=per_document, include_public=include_public
            )
            span.set_attribute("supportbot.retrieval.results", len(results))
        if self._observe is not None:
            self._observe(mode, time.perf_counter() - started)
        return results

    async def _search(
        self,
        question: str,
        *,
        org: str | None,
        mode: SearchMode,
        limit: int,
        per_document: int | None,
        include_public: bool,
    ) -> list[SearchResult]:
        rows, fusion = await self.candidates(question, org=org, mode=mode, limit=limit, include_public=include_public)
        return self.rank(rows, mode=mode, fusion=fusion, limit=limit, per_document=per_document)

    async def candidates(
        self, question: str, *, org: str | None, mode: SearchMode, limit: int, include_public: bool
    ) -> tuple[CandidateRows, FusionConfig]:
        """The candidates of one question, and the fusion `org` uses: its calibrated one, else the default."""
        if not question.strip():
            return [], self._config.fusion
        with tracer.start_as_current_span("embed query"):
            vector = (await self._embedder.embed([question]))[0]
        params: dict[str, Any] = {
            "vec": Vector(vector),
            "text": question,
            "org": org,
            "k": max(self._config.candidates, limit),
            "public": include_public,
            "max_df": self._config.lexical_max_df,
        }
        with tracer.start_as_current_span("candidates") as span:
            span.set_attribute("supportbot.retrieval.candidate_sets", _CANDIDATE_SETS[mode])
            async with self._pool.connection() as conn:
                own = (
                    await self.org_fusion.get(org, conn=conn) if org is not None and mode is SearchMode.HYBRID else None
                )
                rows = await (
                    await conn.execute(_scored(_candidates(mode, include_public=include_public)), params)
                ).fetchall()
            span.set_attribute("supportbot.retrieval.candidates", len(rows))
        return rows, own or self._config.fusion

    def rank(
        self, rows: CandidateRows, *, mode: SearchMode, fusion: FusionConfig, limit: int, per_document: int | None
    ) -> list[SearchResult]:
        """Order `rows` by `mode` (hybrid: fused by `fusion`), weigh stale documents down, keep the top."""
        dense = [float(row[1]) for row in rows]
        lexical = [float(row[2]) if row[2] else None for row in rows]
        dense_ranks, lexical_ranks = ranks(dense), ranks(lexical)
        candidates = [
            Candidate(row[0], dense[i], lexical[i], dense_ranks[i], lexical_ranks[i]) for i, row in enumerate(rows)
        ]
        if mode is SearchMode.DENSE:
            base = dense
        elif mode is SearchMode.FTS:
            base = [value or 0.0 for value in lexical]
        else:
            base = fuse(candidates, fusion)
        today = self._today()
        results = []
        for i, row in enumerate(rows):
            freshness = freshness_on(row[12], today)
            weight = self._config.stale_weight if freshness is Freshness.STALE else 1.0
            results.append(
                SearchResult(
                    chunk_id=row[0],
                    document_id=row[3],
                    doc_key=row[4],
                    org=row[5],
                    title=row[6],
                    heading_path=tuple(row[7]),
                    text=row[8],
                    source_url=row[9],
                    owner=row[10],
                    updated_at=row[11],
                    review_by=row[12],
                    freshness=freshness,
                    score=base[i] * weight,
                    scores={"dense": dense[i], "lexical": lexical[i] or 0.0, "fused": base[i]},
                )
            )
        results.sort(key=lambda result: (-result.score, result.chunk_id))
        return _limit(results, limit=limit, per_document=per_document)


def top(results: list[SearchResult], *, limit: int, per_document: int | None) -> list[SearchResult]:
    """The first `limit` of ranked results, at most `per_document` from any one document (None: no such cap)."""
    return _limit(results, limit=limit, per_document=per_document)


def _limit(results: list[SearchResult], *, limit: int, per_document: int | None) -> list[SearchResult]:
    if per_document is None:
        return results[:limit]
    seen: dict[int, int] = {}
    kept = []
    for result in results:
        if seen.get(result.document_id, 0) < per_document:
            seen[result.document_id] = seen.get(result.document_id, 0) + 1
            kept.append(result)
            if len(kept) == limit:
                break
    return kept
