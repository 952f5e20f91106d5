"""Repository for documents, chunks and the embedding space (all knowledge SQL but search and gaps)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
from pgvector import Vector
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from knowledge.embedder import Vectors
from knowledge.errors import EmbedderMismatch
from knowledge.models import Chunk, DocumentRecord, chunk_context

log = logging.getLogger(__name__)

# The one pool type of knowledge/ and of every package above it. escalation/, which may import nothing of ours,
# spells the same alias once more in escalation/audit.py.
Pool = AsyncConnectionPool[AsyncConnection[Any]]


@dataclass(frozen=True)
class NewDocument:
    org: str | None
    doc_key: str
    title: str
    owner: str | None
    source_path: str | None
    source_url: str | None
    tags: tuple[str, ...]
    review_by: date
    content_hash: str


@dataclass(frozen=True)
class StoredVersion:
    id: int
    content_hash: str
    title: str
    owner: str | None
    source_url: str | None
    tags: tuple[str, ...]
    review_by: date


_DOC_COLUMNS = """d.id, d.doc_key, d.org, d.title, d.owner, d.source_path, d.source_url, d.review_by,
    d.updated_at, (SELECT count(*) FROM kb_chunks c WHERE c.document_id = d.id), d.tags"""


def _params(doc: NewDocument) -> dict[str, Any]:
    return asdict(doc) | {"tags": list(doc.tags)}


def _document(row: tuple[Any, ...]) -> DocumentRecord:
    return DocumentRecord(
        id=row[0],
        doc_key=row[1],
        org=row[2],
        title=row[3],
        owner=row[4],
        source_path=row[5],
        source_url=row[6],
        review_by=row[7],
        updated_at=row[8],
        chunk_count=row[9],
        tags=tuple(row[10]),
    )


class KnowledgeStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    # -- embedding space -------------------------------------------------------------------

    async def embedding_space(self) -> tuple[str, int] | None:
        async with self._pool.connection() as conn:
            row = await (await conn.execute("SELECT model, dimension FROM kb_embedding_space")).fetchone()
        return (row[0], row[1]) if row else None

    async def ensure_embedding_space(self, model: str, dimension: int) -> None:
        """Register the embedder on first use; refuse a different one afterwards."""
        stored = await self.embedding_space()
        if stored is None:
            await self.reset_embedding_space(model, dimension)
            return
        if stored != (model, dimension):
            raise EmbedderMismatch(
                f"The knowledge base was embedded with {stored[0]} ({stored[1]} dimensions) but the "
                f"configured embedder is {model} ({dimension} dimensions); run `supportbot reindex` "
                "to re-embed every document with the configured embedder."
            )

    async def stored_vectors(self) -> tuple[list[int], int]:
        """The dimensions the stored chunk vectors actually have, and how many chunks have none (not embedded)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT vector_dims(embedding), count(*) FROM kb_chunks GROUP BY 1 ORDER BY 1 NULLS FIRST"
            )
            rows = await cur.fetchall()
        return [dims for dims, _ in rows if dims is not None], sum(count for dims, count in rows if dims is None)

    async def reset_embedding_space(self, model: str, dimension: int) -> None:
        """Drop every vector and give the columns the new dimension, with the HNSW index on public chunks."""
        size = sql.Literal(dimension)
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("LOCK TABLE kb_chunks, kb_gaps IN ACCESS EXCLUSIVE MODE")
            await conn.execute("DROP INDEX IF EXISTS kb_chunks_embedding_public")
            await conn.execute("UPDATE kb_chunks SET embedding = NULL")
            await conn.execute("UPDATE kb_gaps SET embedding = NULL")
            await conn.execute("DELETE FROM kb_unit_vectors")  # another model's: answers embed units again as needed
            for table in ("kb_chunks", "kb_gaps"):
                await conn.execute(
                    sql.SQL("ALTER TABLE {} ALTER COLUMN embedding TYPE vector({})").format(sql.Identifier(table), size)
                )
            # Public chunks are searched by every org: a partial HNSW index serves them without
            # filtering. Org-private chunks are few per org and scanned exactly via kb_chunks_org.
            await conn.execute(
                "CREATE INDEX kb_chunks_embedding_public ON kb_chunks USING hnsw (embedding vector_cosine_ops) "
                "WITH (m = 16, ef_construction = 64) WHERE org IS NULL"
            )
            await conn.execute("DELETE FROM kb_embedding_space")
            await conn.execute("INSERT INTO kb_embedding_space (model, dimension) VALUES (%s, %s)", (model, dimension))

    # -- documents ---------------------------------------------------------------------------

    async def stored_versions(self, org: str | None, doc_keys: list[str]) -> dict[str, StoredVersion]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT doc_key, id, content_hash, title, owner, source_url, tags, review_by FROM kb_documents "
                "WHERE org IS NOT DISTINCT FROM %s AND doc_key = ANY(%s)",
                (org, doc_keys),
            )
            rows = await cur.fetchall()
        return {row[0]: StoredVersion(row[1], row[2], row[3], row[4], row[5], tuple(row[6]), row[7]) for row in rows}

    async def replace_document(
        self,
        doc: NewDocument,
        chunks: list[Chunk],
        vectors: Vectors,
        *,
        units: Sequence[Sequence[tuple[bytes, Vectors]]] = (),
    ) -> int:
        """Insert or replace a document and all its chunks in one transaction; `units` are each chunk's
        (unit key, vector) pairs (knowledge/units.py), stored with it.

        A concurrent search sees either the old chunks or the new ones, never a mix.
        """
        if len(chunks) != len(vectors) or (units and len(units) != len(chunks)):
            raise ValueError("one vector per chunk is required, and units for every chunk or none")
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                """INSERT INTO kb_documents
                       (org, doc_key, title, owner, source_path, source_url, tags, review_by, content_hash)
                   VALUES (%(org)s, %(doc_key)s, %(title)s, %(owner)s, %(source_path)s, %(source_url)s, %(tags)s,
                           %(review_by)s, %(content_hash)s)
                   ON CONFLICT ((coalesce(org, '')), doc_key) DO UPDATE SET
                       title = EXCLUDED.title, owner = EXCLUDED.owner, source_path = EXCLUDED.source_path,
                       source_url = EXCLUDED.source_url, tags = EXCLUDED.tags, review_by = EXCLUDED.review_by,
                       content_hash = EXCLUDED.content_hash, updated_at = now()
                   RETURNING id""",
                _params(doc),
            )
            row = await cur.fetchone()
            assert row is not None
            document_id: int = row[0]
            await conn.execute("DELETE FROM kb_chunks WHERE document_id = %s", (document_id,))
            async with (
                conn.cursor() as copy_cur,
                copy_cur.copy(
                    "COPY kb_chunks (document_id, org, ordinal, heading_path, context, body, embedding) "
                    "FROM STDIN WITH (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["int8", "text", "int4", "text[]", "text", "text", "vector"])
                for chunk, vector in zip(chunks, vectors, strict=True):
                    context = chunk_context(doc.title, chunk.heading_path)
                    await copy.write_row(
                        (
                            document_id,
                            doc.org,
                            chunk.ordinal,
                            list(chunk.heading_path),
                            context,
                            chunk.text,
                            Vector(vector),
                        )
                    )
            if units:
                await _copy_unit_vectors(
                    conn, document_id, [(c.ordinal, pairs) for c, pairs in zip(chunks, units, strict=True)]
                )
        return document_id

    async def unit_vectors(self, chunk_ids: list[int]) -> dict[int, dict[bytes, Vectors]]:
        """The stored unit vectors of these chunks, by chunk and unit key."""
        found: dict[int, dict[bytes, Vectors]] = {chunk_id: {} for chunk_id in chunk_ids}
        async with self._pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT chunk_id, unit_key, embedding FROM kb_unit_vectors WHERE chunk_id = ANY(%s)",
                    (chunk_ids,),
                    binary=True,  # vectors as bytes: parsing 100 vectors from text costs milliseconds
                )
            ).fetchall()
        for chunk_id, key, vector in rows:
            found[chunk_id][bytes(key)] = np.asarray(vector.to_numpy(), dtype=np.float32)
        return found

    async def add_unit_vectors(self, rows: list[tuple[int, bytes, Vectors]]) -> None:
        """Vectors of units embedded at answer time (a chunk stored before units were, or a new splitter)."""
        async with self._pool.connection() as conn, conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO kb_unit_vectors (chunk_id, unit_key, embedding) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",  # a chunk deleted meanwhile fails the foreign key: see the caller
                [(chunk_id, key, Vector(vector)) for chunk_id, key, vector in rows],
            )

    async def update_metadata(self, document_id: int, doc: NewDocument) -> None:
        """Owner, dates, tags or URL changed but the title and text did not: nothing to re-embed."""
        async with self._pool.connection() as conn:
            await conn.execute(
                """UPDATE kb_documents SET title = %(title)s, owner = %(owner)s, source_path = %(source_path)s,
                       source_url = %(source_url)s, tags = %(tags)s, review_by = %(review_by)s, updated_at = now()
                   WHERE id = %(id)s""",
                _params(doc) | {"id": document_id},
            )

    async def prune(self, *, under: str, keep_paths: set[str]) -> list[str]:
        """Delete documents (of any org) ingested from below folder `under` whose file is gone."""
        prefix = under.rstrip("/") + "/"
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, doc_key, source_path FROM kb_documents WHERE starts_with(source_path, %s)", (prefix,)
            )
            gone = [(row[0], row[1]) for row in await cur.fetchall() if row[2] not in keep_paths]
            if gone:
                await conn.execute("DELETE FROM kb_documents WHERE id = ANY(%s)", ([doc_id for doc_id, _ in gone],))
        return [key for _, key in gone]

    async def refresh_term_stats(self) -> None:
        """Recount document frequencies; cheap next to embedding, so run after every ingest that wrote."""
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("LOCK TABLE kb_term_stats IN EXCLUSIVE MODE")
            await conn.execute("DELETE FROM kb_term_stats")
            await conn.execute(
                "INSERT INTO kb_term_stats (lexeme, df) SELECT word, ndoc FROM ts_stat('SELECT tsv FROM kb_chunks')"
            )
            await conn.execute(
                "INSERT INTO kb_corpus_stats (chunks) SELECT count(*) FROM kb_chunks ON CONFLICT (singleton) "
                "DO UPDATE SET chunks = EXCLUDED.chunks, refreshed_at = now()"
            )

    async def delete_org(self, org: str) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute("DELETE FROM kb_documents WHERE org = %s", (org,))
            deleted = cur.rowcount
        if deleted:
            await self.refresh_term_stats()
        return deleted

    async def documents(self, *, org: str | None = None, include_public: bool = True) -> list[DocumentRecord]:
        query = f"SELECT {_DOC_COLUMNS} FROM kb_documents d"
        params: tuple[Any, ...] = ()
        if org is not None:
            query += " WHERE d.org = %s" + (" OR d.org IS NULL" if include_public else "")
            params = (org,)
        async with self._pool.connection() as conn:
            rows = await (
                await conn.execute(query.encode() + b" ORDER BY d.org NULLS FIRST, d.doc_key", params)
            ).fetchall()
        return [_document(row) for row in rows]

    async def chunk_texts(self) -> list[tuple[int, str, str]]:
        """(chunk id, context, body) of every chunk, for re-embedding."""
        async with self._pool.connection() as conn:
            rows = await (await conn.execute("SELECT id, context, body FROM kb_chunks ORDER BY id")).fetchall()
        return [(row[0], row[1], row[2]) for row in rows]

    async def set_embeddings(self, ids: list[int], vectors: Vectors) -> None:
        async with self._pool.connection() as conn, conn.cursor() as cur:
            await cur.executemany(
                "UPDATE kb_chunks SET embedding = %s WHERE id = %s",
                [(Vector(vector), chunk_id) for chunk_id, vector in zip(ids, vectors, strict=True)],
            )


async def _copy_unit_vectors(
    conn: Any, document_id: int, units: list[tuple[int, Sequence[tuple[bytes, Vectors]]]]
) -> None:
    rows = await (
        await conn.execute("SELECT ordinal, id FROM kb_chunks WHERE document_id = %s", (document_id,))
    ).fetchall()
    ids = dict(rows)
    async with (
        conn.cursor() as cur,
        cur.copy("COPY kb_unit_vectors (chunk_id, unit_key, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["int8", "bytea", "vector"])
        for ordinal, pairs in units:
            for key, vector in dict(pairs).items():  # a unit said twice in a chunk is stored once
                await copy.write_row((ids[ordinal], key, Vector(vector)))
