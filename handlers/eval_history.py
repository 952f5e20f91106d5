"""Stored evaluation runs (scenarios, retrieval questions) with the fingerprint of what they ran on, for the
weekly trend, drift and the autonomy gate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from escalation.policy import Policy
from handlers.knowledge_turns import OFFLINE_ANSWERER
from handlers.prompts import load_prompt
from knowledge.sources import KnowledgeSources
from knowledge.store import Pool

OFFLINE = "offline"
PROMPTS = ("answer", "route", "rewrite")


@dataclass(frozen=True)
class Fingerprint:
    """What a run's figures depend on: the policy file, the prompt versions, the model and the knowledge."""

    policy: str
    prompts: str
    model: str
    knowledge: str

    def as_dict(self) -> dict[str, str]:
        return {"policy": self.policy, "prompts": self.prompts, "model": self.model, "knowledge": self.knowledge}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        return cls(*(str(data.get(key, "")) for key in ("policy", "prompts", "model", "knowledge")))

    def changes_from(self, before: Fingerprint) -> list[str]:
        """What changed between two runs, in words for the digest."""
        changes = []
        if self.knowledge != before.knowledge:
            changes.append("documents ingested or changed")
        if self.policy != before.policy:
            changes.append("policy changed")
        if self.prompts != before.prompts:
            changes.append(f"prompt versions changed ({before.prompts} → {self.prompts})")
        if self.model != before.model:
            changes.append(f"model changed ({before.model} → {self.model})")
        return changes


def policy_hash(policy: Policy) -> str:
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()[:16]


def prompt_versions() -> str:
    return ",".join([*(load_prompt(name).label for name in PROMPTS), "@".join(OFFLINE_ANSWERER)])


async def current_fingerprint(policy: Policy, sources: KnowledgeSources, *, model: str | None) -> Fingerprint:
    return Fingerprint(policy_hash(policy), prompt_versions(), model or OFFLINE, await sources.fingerprint())


@dataclass(frozen=True)
class EvalRun:
    id: int
    ran_at: datetime
    kind: str  # scenarios | retrieval
    mode: str
    org: str
    source: str
    figures: dict[str, Any]
    fingerprint: Fingerprint
    database: str | None


_COLUMNS = "id, ran_at, kind, mode, org, source, figures, fingerprint, database"


def _run(row: tuple[Any, ...]) -> EvalRun:
    return EvalRun(
        id=row[0],
        ran_at=row[1],
        kind=row[2],
        mode=row[3],
        org=row[4],
        source=row[5],
        figures=row[6],
        fingerprint=Fingerprint.from_dict(row[7]),
        database=row[8],
    )


class EvalHistory:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def add(
        self,
        *,
        kind: str,
        mode: str,
        figures: dict[str, Any],
        fingerprint: Fingerprint,
        source: str,
        org: str | None = None,
        database: str | None = None,
    ) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO eval_runs (kind, mode, org, source, figures, fingerprint, database) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (kind, mode, org or "", source, Jsonb(figures), Jsonb(fingerprint.as_dict()), database),
            )
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def runs(self, *, kind: str | None = None, since: datetime | None = None, limit: int = 200) -> list[EvalRun]:
        """Newest first."""
        query = f"SELECT {_COLUMNS} FROM eval_runs WHERE (%s::text IS NULL OR kind = %s)"
        query += " AND (%s::timestamptz IS NULL OR ran_at >= %s) ORDER BY ran_at DESC, id DESC LIMIT %s"
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(query, (kind, kind, since, since, limit))).fetchall()
        return [_run(row) for row in rows]

    async def latest_before(self, moment: datetime) -> list[EvalRun]:
        """The newest run of each (kind, mode, org) at or before `moment`."""
        async with self._pool.connection() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT DISTINCT ON (kind, mode, org) {_COLUMNS} FROM eval_runs WHERE ran_at <= %s "
                    "ORDER BY kind, mode, org, ran_at DESC, id DESC",
                    (moment,),
                )
            ).fetchall()
        return [_run(row) for row in rows]

    async def latest_scenarios(self, fingerprint: Fingerprint) -> EvalRun | None:
        """The newest scenario run made on exactly this policy, prompts, model and knowledge."""
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM eval_runs WHERE kind = 'scenarios' AND fingerprint = %s "
                    "ORDER BY ran_at DESC, id DESC LIMIT 1",
                    (Jsonb(fingerprint.as_dict()),),
                )
            ).fetchone()
        return _run(row) if row else None
