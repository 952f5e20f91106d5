"""Where the knowledge came from (the folders `supportbot ingest` was given, per org) and a fingerprint of
what is stored now, so an evaluation can load the same documents and say whether they changed since."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from knowledge.store import Pool

# kept beside the documents by their owner: one {"question", "gold_doc_ids"} per line; never ingested
QUESTIONS_FILE = "retrieval-questions.jsonl"


@dataclass(frozen=True)
class Source:
    root: Path
    org: str | None  # the --org it was ingested with; None = each document's front matter decides

    @property
    def questions(self) -> Path | None:
        path = self.root / QUESTIONS_FILE
        return path if self.root.is_dir() and path.is_file() else None


class KnowledgeSources:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def record(self, paths: list[Path], *, org: str | None) -> None:
        async with self._pool.connection() as conn:
            for path in paths:
                await conn.execute(
                    "INSERT INTO kb_sources (root, org) VALUES (%s, %s) "
                    "ON CONFLICT (root, org) DO UPDATE SET last_ingested_at = now()",
                    (str(path.resolve()), org or ""),
                )

    async def sources(self) -> list[Source]:
        async with self._pool.connection() as conn:
            rows = await (await conn.execute("SELECT root, org FROM kb_sources ORDER BY root, org")).fetchall()
        return [Source(Path(root), org or None) for root, org in rows]

    async def fingerprint(self) -> str:
        """Changes when any document is added, removed, edited or moves to another org."""
        digest = hashlib.sha256()
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT coalesce(org, ''), doc_key, content_hash FROM kb_documents ORDER BY 1, 2, 3"
            )
            for org, key, content in await cur.fetchall():
                digest.update(f"{org}\x00{key}\x00{content}\n".encode())
        return digest.hexdigest()[:16]

    async def changed_since(self, moment: datetime) -> list[str]:
        """Documents added or changed after `moment`, newest first."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT doc_key FROM kb_documents WHERE updated_at > %s ORDER BY updated_at DESC, doc_key", (moment,)
            )
            return [row[0] for row in await cur.fetchall()]
