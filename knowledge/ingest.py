"""Ingest files into the knowledge base: idempotent by content hash, atomic per document."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from knowledge.chunking import chunk_document, extract_title
from knowledge.embedder import Embedder
from knowledge.errors import KnowledgeError, UnreadableDocument
from knowledge.loaders import parse_file
from knowledge.models import Chunk, ParsedDocument, chunk_context, embedding_input
from knowledge.sources import QUESTIONS_FILE
from knowledge.store import KnowledgeStore, NewDocument, StoredVersion
from knowledge.units import embedding_text, unit_key, units_of

log = logging.getLogger(__name__)

# Bump when chunking changes so that re-ingesting re-chunks every document.
CHUNKER_VERSION = "1"


@dataclass(frozen=True)
class IngestOptions:
    org: str | None = None
    owner: str | None = None
    review_every: timedelta = timedelta(days=180)
    prune: bool = False
    max_bytes: int = 10_000_000
    max_chars: int = 1000
    # Evaluation forces its throw-away org even when front matter names another.
    org_from_front_matter: bool = True
    # Retrieval evaluation never answers, so it skips the answer units' vectors: most of ingestion's embedding.
    unit_vectors: bool = True


@dataclass
class IngestSummary:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    chunks_written: int = 0


@dataclass(frozen=True)
class SourceFile:
    path: Path
    doc_key: str
    root: Path | None  # the folder it was found in, for pruning


@dataclass
class _Pending:
    doc: NewDocument
    chunks: list[Chunk]
    is_new: bool


def discover(paths: list[Path], summary: IngestSummary) -> Iterator[SourceFile]:
    """Every file under the given paths; missing paths are recorded as skipped."""
    for given in paths:
        if not given.exists():
            summary.skipped.append((str(given), "no such file or directory"))
        elif given.is_file():
            yield SourceFile(given.resolve(), given.stem, None)
        else:
            root = given.resolve()
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith(".") or (name == QUESTIONS_FILE and Path(folder) == root):
                        continue  # the owner's retrieval questions sit beside the documents, never among them
                    path = Path(folder) / name
                    yield SourceFile(path, path.relative_to(root).with_suffix("").as_posix(), root)


def content_hash(parsed: ParsedDocument, title: str) -> str:
    digest = hashlib.sha256()
    for part in (CHUNKER_VERSION, title, parsed.text):
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


class Ingestor:
    def __init__(
        self, store: KnowledgeStore, embedder: Embedder, *, batch_size: int = 64, today: Callable[[], date] = date.today
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._batch_size = batch_size
        self._today = today

    async def ingest(
        self, paths: list[Path], options: IngestOptions, *, on_file: Callable[[str], None] | None = None
    ) -> IngestSummary:
        summary = IngestSummary()
        files = list(discover(paths, summary))
        parsed: list[tuple[SourceFile, ParsedDocument]] = []
        for source in files:
            try:
                parsed.append((source, parse_file(source.path, doc_key=source.doc_key, max_bytes=options.max_bytes)))
            except UnreadableDocument as exc:
                summary.skipped.append((str(source.path), str(exc)))
                if on_file:
                    on_file(str(source.path))
            except OSError as exc:
                summary.skipped.append((str(source.path), f"cannot read: {exc.strerror or exc}"))
                if on_file:
                    on_file(str(source.path))
        await self._write_all(parsed, options, summary, on_file)
        if options.prune:
            for root in sorted({source.root for source in files if source.root is not None}):
                keep = {str(source.path) for source in files if source.root == root}
                summary.pruned += await self._store.prune(under=str(root), keep_paths=keep)
        if summary.chunks_written or summary.pruned:
            await self._store.refresh_term_stats()
        return summary

    async def _write_all(
        self,
        parsed: list[tuple[SourceFile, ParsedDocument]],
        options: IngestOptions,
        summary: IngestSummary,
        on_file: Callable[[str], None] | None,
    ) -> None:
        documents = [(source, doc, self._new_document(source, doc, options)) for source, doc in parsed]
        stored: dict[tuple[str | None, str], StoredVersion] = {}
        for org in {new.org for _, _, new in documents}:
            keys = [new.doc_key for _, _, new in documents if new.org == org]
            for key, version in (await self._store.stored_versions(org, keys)).items():
                stored[(org, key)] = version
        batch: list[_Pending] = []
        for source, doc, new in documents:
            previous = stored.get((new.org, new.doc_key))
            if previous is not None and previous.content_hash == new.content_hash:
                await self._keep(previous, new, summary)
            else:
                chunks = chunk_document(doc.text, markup=doc.markup, title=new.title, max_chars=options.max_chars)
                batch.append(_Pending(new, chunks, is_new=previous is None))
                if sum(len(pending.chunks) for pending in batch) >= self._batch_size * 4:
                    await self._flush(batch, summary, options)
                    batch = []
            if on_file:
                on_file(str(source.path))
        await self._flush(batch, summary, options)

    async def _keep(self, previous: StoredVersion, new: NewDocument, summary: IngestSummary) -> None:
        current = (new.title, new.owner, new.source_url, new.tags, new.review_by)
        if current == (previous.title, previous.owner, previous.source_url, previous.tags, previous.review_by):
            summary.unchanged.append(new.doc_key)
            return
        await self._store.update_metadata(previous.id, new)
        summary.updated.append(new.doc_key)

    async def _flush(self, batch: list[_Pending], summary: IngestSummary, options: IngestOptions) -> None:
        if not batch:
            return
        texts = [
            embedding_input(chunk_context(pending.doc.title, chunk.heading_path), chunk.text)
            for pending in batch
            for chunk in pending.chunks
        ]
        # each chunk's answerable units too, so an answer never embeds during a turn (knowledge/units.py)
        unit_texts = [
            [embedding_text(unit) for unit in units_of(chunk.text)] if options.unit_vectors else []
            for pending in batch
            for chunk in pending.chunks
        ]
        distinct = list(dict.fromkeys(text for texts_of_chunk in unit_texts for text in texts_of_chunk))
        try:
            vectors = await self._embedder.embed(texts + distinct)
        except KnowledgeError as exc:
            summary.failed += [(pending.doc.doc_key, str(exc)) for pending in batch]
            return
        unit_vector = dict(zip(distinct, vectors[len(texts) :], strict=True))
        units = [[(unit_key(text), unit_vector[text]) for text in texts_of_chunk] for texts_of_chunk in unit_texts]
        offset = 0
        for pending in batch:
            count = len(pending.chunks)
            try:
                await self._store.replace_document(
                    pending.doc, pending.chunks, vectors[offset : offset + count], units=units[offset : offset + count]
                )
            except Exception as exc:  # one document's failure must not stop the batch
                log.exception("storing %s failed", pending.doc.doc_key)
                summary.failed.append((pending.doc.doc_key, f"storage error: {exc}"))
            else:
                (summary.added if pending.is_new else summary.updated).append(pending.doc.doc_key)
                summary.chunks_written += count
            offset += count

    def _new_document(self, source: SourceFile, doc: ParsedDocument, options: IngestOptions) -> NewDocument:
        meta = doc.meta
        title = meta.title or extract_title(doc.text) or source.doc_key.rsplit("/", 1)[-1].replace("-", " ").title()
        org = (meta.org if options.org_from_front_matter else None) or options.org
        modified = datetime.fromtimestamp(source.path.stat().st_mtime).date()
        return NewDocument(
            org=org.lower() if org else None,
            doc_key=source.doc_key,
            title=title,
            owner=meta.owner or options.owner,
            source_path=str(source.path),
            source_url=meta.source_url,
            tags=meta.tags,
            review_by=meta.review_by or modified + options.review_every,
            content_hash=content_hash(doc, title),
        )
