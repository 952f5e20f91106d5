"""Plain data shared by ingestion, search and reporting."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Freshness(StrEnum):
    FRESH = "fresh"
    STALE = "stale"


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    DENSE = "dense"
    FTS = "fts"


def chunk_context(title: str, heading_path: tuple[str, ...]) -> str:
    """Title and headings: stored beside each chunk, embedded with it and weighted up in full-text search."""
    return " › ".join((title, *heading_path))


def embedding_input(context: str, body: str) -> str:
    return f"{context}\n{body}"


def freshness_on(review_by: date, today: date) -> Freshness:
    return Freshness.STALE if review_by < today else Freshness.FRESH


@dataclass(frozen=True)
class DocumentMeta:
    """What front matter (or HTML meta tags) can say about a document."""

    title: str | None = None
    owner: str | None = None
    org: str | None = None
    source_url: str | None = None
    review_by: date | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedDocument:
    """A file turned into text, before chunking."""

    doc_key: str
    path: str
    text: str
    meta: DocumentMeta
    markup: str  # "markdown" or "text": decides how headings are found


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    heading_path: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class DocumentRecord:
    id: int
    doc_key: str
    org: str | None
    title: str
    owner: str | None
    source_path: str | None
    source_url: str | None
    review_by: date
    updated_at: datetime
    chunk_count: int
    tags: tuple[str, ...] = ()

    def freshness(self, today: date) -> Freshness:
        return freshness_on(self.review_by, today)


@dataclass(frozen=True)
class Candidate:
    """One chunk with its raw per-mode scores, as the database returns it."""

    chunk_id: int
    dense: float | None
    lexical: float | None
    dense_rank: int | None
    lexical_rank: int | None


@dataclass(frozen=True)
class SearchResult:
    chunk_id: int
    document_id: int
    doc_key: str
    org: str | None
    title: str
    heading_path: tuple[str, ...]
    text: str
    source_url: str | None
    owner: str | None
    updated_at: datetime
    review_by: date
    freshness: Freshness
    score: float
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def citation(self) -> str:
        where = " › ".join(self.heading_path) if self.heading_path else self.title
        return f"{self.title} — {where}" if self.heading_path else where
