"""Knowledge gaps: questions the bot could not answer well, grouped for the people who fix docs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np
from pgvector import Vector

from knowledge.embedder import Embedder
from knowledge.store import Pool


class GapReason(StrEnum):
    NO_ANSWER = "no_answer"
    LOW_CONFIDENCE = "low_confidence"
    NEGATIVE_FEEDBACK = "negative_feedback"


@dataclass(frozen=True)
class Gap:
    id: int
    org: str | None
    conversation_key: str | None
    question: str
    reason: GapReason
    created_at: datetime


@dataclass
class GapGroup:
    """Near-duplicate questions; `example` is the earliest-recorded one."""

    example: str
    gaps: list[Gap] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.gaps)

    @property
    def reasons(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for gap in self.gaps:
            counts[gap.reason.value] = counts.get(gap.reason.value, 0) + 1
        return counts

    @property
    def orgs(self) -> list[str]:
        return sorted({gap.org or "public" for gap in self.gaps})


class GapLog:
    def __init__(self, pool: Pool, embedder: Embedder, *, similarity: float = 0.65) -> None:
        self._pool = pool
        self._embedder = embedder
        self._similarity = similarity

    async def record(
        self,
        question: str,
        *,
        reason: GapReason,
        org: str | None,
        conversation_key: str | None = None,
        detail: str | None = None,
    ) -> int:
        vector = (await self._embedder.embed([question]))[0]
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO kb_gaps (org, conversation_key, question, reason, detail, embedding) "
                "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (org, conversation_key, question, reason.value, detail, Vector(vector)),
            )
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def groups(self, *, since: datetime, org: str | None = None) -> list[GapGroup]:
        """Greedy single-pass clustering by cosine similarity; largest groups first."""
        query = (
            "SELECT id, org, conversation_key, question, reason, created_at, embedding FROM kb_gaps "
            "WHERE created_at >= %s AND embedding IS NOT NULL AND (%s::text IS NULL OR org = %s) "
            "ORDER BY created_at, id"
        )
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(query, (since, org, org))).fetchall()
        groups: list[GapGroup] = []
        centroids: list[np.ndarray] = []
        for row in rows:
            gap = Gap(row[0], row[1], row[2], row[3], GapReason(row[4]), row[5])
            vector = np.asarray(row[6].to_numpy(), dtype=np.float32)
            best, best_score = -1, self._similarity
            for index, centroid in enumerate(centroids):
                score = float(np.dot(centroid, vector) / (np.linalg.norm(centroid) or 1.0))
                if score >= best_score:
                    best, best_score = index, score
            if best < 0:
                groups.append(GapGroup(example=gap.question, gaps=[gap]))
                centroids.append(vector.copy())
            else:
                groups[best].gaps.append(gap)
                centroids[best] = centroids[best] + vector
        return sorted(groups, key=lambda group: (-group.count, group.example))

    async def reembed(self) -> int:
        """Embed every recorded question again, after the embedding space was reset."""
        async with self._pool.connection() as conn:
            rows = await (await conn.execute("SELECT id, question FROM kb_gaps ORDER BY id")).fetchall()
            if not rows:
                return 0
            vectors = await self._embedder.embed([row[1] for row in rows])
            async with conn.cursor() as cur:
                await cur.executemany(
                    "UPDATE kb_gaps SET embedding = %s WHERE id = %s",
                    [(Vector(vector), row[0]) for vector, row in zip(vectors, rows, strict=True)],
                )
        return len(rows)
