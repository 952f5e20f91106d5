"""Finding decisions: by org, workflow (the route), outcome, time, conversation and words, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from knowledge.store import Pool

NO_ORG = "-"  # the filter value for conversations without an org (public knowledge only)


@dataclass(frozen=True)
class DecisionFilter:
    org: str | None = None  # NO_ORG: decisions without an org
    workflow: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    conversation: str | None = None
    text: str | None = None  # words in the customer's message or the reply
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class DecisionSummary:
    id: str
    created_at: datetime
    org: str | None
    platform: str
    conversation_key: str
    route: str | None
    outcome: str
    inbound: str
    approval_id: str | None
    handoff_id: str | None
    demo: bool


@dataclass(frozen=True)
class DecisionFacets:
    """What the filters can choose from."""

    orgs: list[str]
    workflows: list[str]
    outcomes: list[str]


def _where(chosen: DecisionFilter) -> tuple[str, list[Any]]:
    conditions: list[str] = ["outcome <> 'silent'"]
    params: list[Any] = []
    if chosen.org == NO_ORG:
        conditions.append("org IS NULL")
    elif chosen.org:
        conditions.append("org = %s")
        params.append(chosen.org)
    for column, value in (
        ("route", chosen.workflow),
        ("outcome", chosen.outcome),
        ("conversation_key", chosen.conversation),
    ):
        if value:
            conditions.append(f"{column} = %s")
            params.append(value)
    if chosen.since is not None:
        conditions.append("created_at >= %s")
        params.append(chosen.since)
    if chosen.until is not None:
        conditions.append("created_at < %s")
        params.append(chosen.until)
    if chosen.text:
        conditions.append("(inbound ILIKE %s OR reply ILIKE %s)")
        pattern = "%" + chosen.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [pattern, pattern]
    return " AND ".join(conditions), params


class DecisionSearch:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def find(self, chosen: DecisionFilter) -> tuple[list[DecisionSummary], int]:
        """One page of matching decisions, newest first, and how many match in all."""
        where, params = _where(chosen)
        query = (
            "SELECT id, created_at, org, platform, conversation_key, route, outcome, left(inbound, 300), approval_id, "
            f"handoff_id, demo, count(*) OVER () FROM decisions WHERE {where} "
            "ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s"
        )
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(query.encode(), [*params, chosen.limit, chosen.offset])).fetchall()
        total = int(rows[0][-1]) if rows else 0
        return [DecisionSummary(*row[:-1]) for row in rows], total

    async def facets(self) -> DecisionFacets:
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT array(SELECT DISTINCT org FROM decisions WHERE org IS NOT NULL ORDER BY 1), "
                    "array(SELECT DISTINCT route FROM decisions WHERE route IS NOT NULL ORDER BY 1), "
                    "array(SELECT DISTINCT outcome FROM decisions WHERE outcome <> 'silent' ORDER BY 1)"
                )
            ).fetchone()
        assert row is not None
        return DecisionFacets(list(row[0]), list(row[1]), list(row[2]))
