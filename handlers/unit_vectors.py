"""The vectors of the units an answer compares with the question. Ingestion stores them (kb_unit_vectors), so a
turn reads them in one query and keeps them in memory; a unit without one (a chunk stored before units were,
a knowledge base re-embedded with another model) is embedded then, a few per turn, and stored for next time."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Protocol

from knowledge.embedder import Embedder, Vectors
from knowledge.units import unit_key

log = logging.getLogger(__name__)


class UnitVectorStore(Protocol):
    async def unit_vectors(self, chunk_ids: list[int]) -> dict[int, dict[bytes, Vectors]]: ...

    async def add_unit_vectors(self, rows: list[tuple[int, bytes, Vectors]]) -> None: ...


class UnitVectors:
    def __init__(
        self, embedder: Embedder, store: UnitVectorStore | None, *, chunks: int = 4096, embed_at_most: int = 16
    ) -> None:
        self._embedder = embedder
        self._store = store
        self._chunks: OrderedDict[int, dict[bytes, Vectors]] = OrderedDict()  # chunk id -> unit key -> vector
        self._size = chunks
        self._embed_at_most = embed_at_most  # per turn: a unit beyond these is judged on its words alone

    async def question(self, text: str) -> Vectors:
        """The question's vector: through the embedder, whose own cache holds what the search embedded."""
        vectors = await self._embedder.embed([text])
        first: Vectors = vectors[0]
        return first

    async def of(self, wanted: list[tuple[int, str]]) -> list[Vectors | None]:
        """Vectors of (chunk id, embedding text) pairs, best candidates first: None for a unit that has no
        stored vector and came after the first `embed_at_most` such units."""
        await self._load({chunk_id for chunk_id, _ in wanted})
        keys = [(chunk_id, unit_key(text)) for chunk_id, text in wanted]
        missing = list(
            dict.fromkeys(
                (chunk_id, text)
                for (chunk_id, key), (_, text) in zip(keys, wanted, strict=True)
                if key not in self._chunks[chunk_id]
            )
        )[: self._embed_at_most]
        if missing:
            await self._embed(missing)
        return [self._chunks[chunk_id].get(key) for chunk_id, key in keys]

    async def _load(self, chunk_ids: set[int]) -> None:
        unread = sorted(chunk_ids - self._chunks.keys())
        if unread:
            stored = await self._store.unit_vectors(unread) if self._store is not None else {}
            for chunk_id in unread:
                self._chunks[chunk_id] = stored.get(chunk_id, {})
        for chunk_id in chunk_ids:
            self._chunks.move_to_end(chunk_id)
        while len(self._chunks) > self._size:
            self._chunks.popitem(last=False)

    async def _embed(self, missing: list[tuple[int, str]]) -> None:
        vectors = await self._embedder.embed([text for _, text in missing])
        rows = [(chunk_id, unit_key(text), vector) for (chunk_id, text), vector in zip(missing, vectors, strict=True)]
        for chunk_id, key, vector in rows:
            self._chunks.setdefault(chunk_id, {})[key] = vector
        if self._store is None:
            return
        try:
            await self._store.add_unit_vectors(rows)
        except Exception:  # the chunk was re-ingested meanwhile, or the database is busy: the answer goes on
            log.warning("could not store %d unit vectors; they are embedded again next time", len(rows), exc_info=True)
