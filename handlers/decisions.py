"""One decision record per turn: what came in, what was retrieved and proposed, which rule fired, what happened."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from knowledge.store import Pool


def new_decision_id() -> str:
    return "dec_" + secrets.token_hex(6)


def decision_id_for(platform: str, event_key: str) -> str:
    """The decision of a durable inbound event: the same on every re-run of that event."""
    return "dec_" + hashlib.sha256(f"{platform}:{event_key}".encode()).hexdigest()[:12]


@dataclass
class DecisionRecord:
    """Filled in while a turn is handled, written once at its end."""

    id: str
    conversation_key: str
    org: str | None
    platform: str
    author: str
    inbound: str
    outcome: str = "error"
    route: str | None = None
    route_confidence: float | None = None
    route_ranked: list[list[Any]] = field(default_factory=list)
    confidence: float | None = None
    retrieved: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    prompt_version: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    policy_outcome: str | None = None
    policy_rule: str | None = None
    policy_reason: str | None = None
    approval_id: str | None = None
    approver: str | None = None
    action_result: dict[str, Any] | None = None
    handoff_id: str | None = None
    reply: str | None = None
    notes: list[str] = field(default_factory=list)
    latency_ms: float | None = None
    outbound: list[dict[str, Any]] | None = None  # the items decided, for a re-run after a crash
    # one entry per model call of the turn, attempts that failed included (see `count_model_call`)
    model_calls: list[dict[str, Any]] = field(default_factory=list)
    rejected_drafts: list[dict[str, Any]] = field(default_factory=list)  # {"text", "reason"} per unused draft
    route_votes: dict[str, Any] | None = None  # the offline router's and the model's picks, and the rule applied
    input_sources: dict[str, str] = field(default_factory=dict)  # workflow input -> customer | model | lookup
    cost_unknown: bool = False  # a model call had no price: `cost_usd` is then a lower bound, never shown as $0
    search_query: str | None = None  # what an answer turn searched: the message, or a follow-up read with its thread
    trace_id: str | None = None  # the OpenTelemetry trace of the turn (32 hex digits)
    trace_span_id: str | None = None  # the turn's span in it: a later approval click links to it
    redacted_for_model: list[str] | None = None  # kinds of personal data not sent to the model (LLM_REDACT_PII)
    created_at: datetime | None = None

    def note(self, text: str) -> None:
        self.notes.append(text)

    def count_model_call(
        self,
        step: str,
        *,
        model: str,
        prompt_version: str | None,
        outcome: str,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost_usd: float | None = 0.0,
        finish_reason: str | None = None,
        latency_ms: float | None = None,
        detail: str | None = None,
    ) -> None:
        """One model call (`step`: "routing", "drafting"): its tokens count whatever became of its reply.

        `cost_usd` None means the model has no price: the turn's cost is then marked unknown.
        """
        self.model_calls.append(
            {
                "step": step,
                "model": model,
                "prompt_version": prompt_version,
                "outcome": outcome,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cost_usd": cost_usd,
                "finish_reason": finish_reason,
                "latency_ms": None if latency_ms is None else round(latency_ms, 1),
                "detail": detail,
            }
        )
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        if cost_usd is None:
            self.cost_unknown = True
        else:
            self.cost_usd += cost_usd


_JSON_FIELDS = {
    "route_ranked",
    "retrieved",
    "tool_calls",
    "action_result",
    "notes",
    "outbound",
    "model_calls",
    "rejected_drafts",
    "route_votes",
    "input_sources",
}
_COLUMNS = [name for name in DecisionRecord.__dataclass_fields__ if name != "created_at"]


class DecisionStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def save(self, record: DecisionRecord) -> None:
        values = asdict(record)
        params = [
            Jsonb(values[name]) if name in _JSON_FIELDS and values[name] is not None else values[name]
            for name in _COLUMNS
        ]
        placeholders = ", ".join(["%s"] * len(_COLUMNS))
        updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in _COLUMNS if name != "id")
        query = (
            f"INSERT INTO decisions ({', '.join(_COLUMNS)}) VALUES ({placeholders}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}, updated_at = now()"
        )
        async with self._pool.connection() as conn:
            await conn.execute(query.encode(), params)

    async def get(self, decision_id: str) -> DecisionRecord | None:
        query = f"SELECT {', '.join(_COLUMNS)}, created_at FROM decisions WHERE id = %s"
        async with self._pool.connection() as conn:
            row = await (await conn.execute(query.encode(), (decision_id,))).fetchone()
        if row is None:
            return None
        return DecisionRecord(**dict(zip([*_COLUMNS, "created_at"], row, strict=True)))

    async def for_approval(self, approval_id: str) -> DecisionRecord | None:
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute("SELECT id FROM decisions WHERE approval_id = %s LIMIT 1", (approval_id,))
            ).fetchone()
        return await self.get(row[0]) if row else None

    async def record_outcome(
        self, decision_id: str, *, approver: str | None, action_result: dict[str, Any] | None, note: str
    ) -> None:
        """What happened after the turn: the approval was decided and the action ran (or not)."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE decisions SET approver = coalesce(%s, approver), action_result = coalesce(%s, action_result), "
                "notes = notes || %s, updated_at = now() WHERE id = %s",
                (approver, Jsonb(action_result) if action_result is not None else None, Jsonb([note]), decision_id),
            )

    async def add_feedback(self, decision_id: str, *, author: str, helpful: bool, comment: str | None) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO feedback (decision_id, author, helpful, comment) VALUES (%s, %s, %s, %s)",
                (decision_id, author, helpful, comment),
            )
