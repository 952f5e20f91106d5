"""Repository for per-org fusion settings: what `supportbot eval calibrate-fusion` chose for an org."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from knowledge.fusion import Fusion, FusionConfig
from knowledge.store import Pool

Figures = dict[str, dict[str, float]]
"""Per option label: recall@1, recall@5, MRR@10 … as measured when the choice was made."""


@dataclass(frozen=True)
class OrgFusion:
    org: str
    fusion: FusionConfig
    questions: int
    figures: Figures
    calibrated_at: datetime


_COLUMNS = "org, method, dense_weight, margin, rrf_k, questions, figures, calibrated_at"


def _fusion(row: tuple[Any, ...]) -> FusionConfig:
    return FusionConfig(method=Fusion(row[1]), dense_weight=row[2], margin=row[3], rrf_k=row[4])


class OrgFusionStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def get(self, org: str, *, conn: AsyncConnection[Any] | None = None) -> FusionConfig | None:
        """The org's calibrated fusion, or None; `conn` lets a search ask on the connection it already holds."""
        query = "SELECT org, method, dense_weight, margin, rrf_k FROM kb_org_fusion WHERE org = %s"
        if conn is not None:
            row = await (await conn.execute(query, (org,))).fetchone()
        else:
            async with self._pool.connection() as own:
                row = await (await own.execute(query, (org,))).fetchone()
        return _fusion(row) if row else None

    async def set(self, org: str, fusion: FusionConfig, *, questions: int, figures: Figures) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO kb_org_fusion (org, method, dense_weight, margin, rrf_k, questions, figures) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (org) DO UPDATE SET method = EXCLUDED.method, "
                "dense_weight = EXCLUDED.dense_weight, margin = EXCLUDED.margin, rrf_k = EXCLUDED.rrf_k, "
                "questions = EXCLUDED.questions, figures = EXCLUDED.figures, calibrated_at = now()",
                (org, fusion.method.value, fusion.dense_weight, fusion.margin, fusion.rrf_k, questions, Jsonb(figures)),
            )

    async def clear(self, org: str) -> bool:
        """Back to the default fusion; False if the org had none of its own."""
        async with self._pool.connection() as conn:
            cur = await conn.execute("DELETE FROM kb_org_fusion WHERE org = %s", (org,))
            return cur.rowcount > 0

    async def all(self) -> list[OrgFusion]:
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(f"SELECT {_COLUMNS} FROM kb_org_fusion ORDER BY org")).fetchall()
        return [OrgFusion(row[0], _fusion(row), row[5], row[6], row[7]) for row in rows]
