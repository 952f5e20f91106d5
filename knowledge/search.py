"""Hybrid search: HNSW cosine and PostgreSQL full-text candidates, fused in Python."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, LiteralString

from pgvector import Vector

from knowledge.embedder import Embedder
from knowledge.fusion import FusionConfig, fuse, ranks
from knowledge.models import Candidate, Freshness, SearchMode, SearchResult, freshness_on
from knowledge.store import Pool

_WORD = re.compile(r"[\w][\w'.-]*[\w]|[\w]")


def lexical_query(question: str) -> str:
    """Any-term `websearch_to_tsquery` input: questions rarely contain every word of the answer.

    Quotes and leading minus signs are websearch operators; they are dropped so a customer's
    punctuation cannot turn a term into a negation or a phrase.
    """
    return " or ".join(_WORD.findall(question.lower()))


@dataclass(frozen=True)
class SearchConfig:
    fusion: FusionConfig = FusionConfig()
    candidates: int = 40
    stale_weight: float = 0.7


_DENSE_PUBLIC: LiteralString = (
    "(SELECT id FROM kb_chunks WHERE org IS NULL AND embedding IS NOT NULL "
    "ORDER BY embedding <=> %(vec)s LIMIT %(k)s)"
)
_DENSE_ORG: LiteralString = (
    "(SELECT id FROM kb_chunks WHERE org = %(org)s AND embedding IS NOT NULL "
    "ORDER BY embedding <=> %(vec)s LIMIT %(k)s)"
)
_LEXICAL: LiteralString = (
    "(SELECT id FROM kb_chunks WHERE tsv @@ websearch_to_tsquery('english', %(text)s) "
    "AND ((org IS NULL AND %(public)s) OR org = %(org)s) "
    "ORDER BY ts_rank(tsv, websearch_to_tsquery('english', %(text)s), 1) DESC LIMIT %(k)s)"
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
    WITH ids AS ({candidates}), q AS (SELECT websearch_to_tsquery('english', %(text)s) AS t)
    SELECT c.id, 1 - (c.embedding <=> %(vec)s), ts_rank(c.tsv, q.t, 1), c.tsv @@ q.t,
           d.id, d.doc_key, d.org, d.title, c.heading_path, c.body, d.source_url, d.owner,
           d.updated_at, d.review_by
    FROM ids JOIN kb_chunks c USING (id) JOIN kb_documents d ON d.id = c.document_id, q
    """


class HybridSearcher:
    def __init__(
        self,
        pool: Pool,
        embedder: Embedder,
        config: SearchConfig,
        *,
        today: Callable[[], date] = date.today,
    ) -> None:
        self._pool = pool
        self._embedder = embedder
        self._config = config
        self._today = today

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
        vector = (await self._embedder.embed([question]))[0]
        params: dict[str, Any] = {
            "vec": Vector(vector),
            "text": lexical_query(question),
            "org": org,
            "k": max(self._config.candidates, limit),
            "public": include_public,
        }
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(_scored(_candidates(mode, include_public=include_public)), params)).fetchall()
        return self._rank(rows, mode=mode, limit=limit, per_document=per_document)

    def _rank(
        self, rows: list[tuple[Any, ...]], *, mode: SearchMode, limit: int, per_document: int | None
    ) -> list[SearchResult]:
        dense = [float(row[1]) for row in rows]
        lexical = [float(row[2]) if row[3] else None for row in rows]
        dense_ranks, lexical_ranks = ranks(dense), ranks(lexical)
        candidates = [
            Candidate(row[0], dense[i], lexical[i], dense_ranks[i], lexical_ranks[i]) for i, row in enumerate(rows)
        ]
        if mode is SearchMode.DENSE:
            base = dense
        elif mode is SearchMode.FTS:
            base = [value or 0.0 for value in lexical]
        else:
            base = fuse(candidates, self._config.fusion)
        today = self._today()
        results = []
        for i, row in enumerate(rows):
            freshness = freshness_on(row[13], today)
            weight = self._config.stale_weight if freshness is Freshness.STALE else 1.0
            results.append(
                SearchResult(
                    chunk_id=row[0], document_id=row[4], doc_key=row[5], org=row[6], title=row[7],
                    heading_path=tuple(row[8]), text=row[9], source_url=row[10], owner=row[11],
                    updated_at=row[12], review_by=row[13], freshness=freshness, score=base[i] * weight,
                    scores={"dense": dense[i], "lexical": lexical[i] or 0.0, "fused": base[i]},
                )
            )
        results.sort(key=lambda result: (-result.score, result.chunk_id))
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
