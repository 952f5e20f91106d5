"""Pure helper of hybrid search: the result limit with a per-document cap."""

from __future__ import annotations

from datetime import date, datetime

from knowledge.models import Freshness, SearchResult
from knowledge.search import _limit


def _result(chunk_id: int, document_id: int) -> SearchResult:
    return SearchResult(
        chunk_id=chunk_id,
        document_id=document_id,
        doc_key=f"doc{document_id}",
        org=None,
        title=f"Doc {document_id}",
        heading_path=(),
        text="",
        source_url=None,
        owner=None,
        updated_at=datetime(2024, 1, 1),
        review_by=date(2030, 1, 1),
        freshness=Freshness.FRESH,
        score=1.0 / chunk_id,
    )


RESULTS = [_result(1, 10), _result(2, 10), _result(3, 10), _result(4, 20), _result(5, 20), _result(6, 30)]


def _ids(results: list[SearchResult]) -> list[int]:
    return [r.chunk_id for r in results]


def test_limit_without_per_document_cap() -> None:
    assert _ids(_limit(RESULTS, limit=4, per_document=None)) == [1, 2, 3, 4]
    assert _ids(_limit(RESULTS, limit=50, per_document=None)) == [1, 2, 3, 4, 5, 6]


def test_limit_one_per_document_keeps_best_of_each() -> None:
    assert _ids(_limit(RESULTS, limit=5, per_document=1)) == [1, 4, 6]


def test_limit_two_per_document() -> None:
    assert _ids(_limit(RESULTS, limit=10, per_document=2)) == [1, 2, 4, 5, 6]


def test_limit_stops_at_limit_even_with_cap() -> None:
    assert _ids(_limit(RESULTS, limit=3, per_document=2)) == [1, 2, 4]
    assert _ids(_limit(RESULTS, limit=1, per_document=1)) == [1]


def test_limit_zero_per_document_keeps_nothing() -> None:
    assert _limit(RESULTS, limit=5, per_document=0) == []
