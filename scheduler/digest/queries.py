"""Every SQL statement the weekly digest runs: facts per conversation, answer, approval and exception.

Each query takes the week as a half-open range [start, end) of aware datetimes and an optional org;
the figures themselves are computed from these rows by `scheduler.digest.kpis`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from psycopg.types.json import Jsonb

from escalation.models import POLICY_AUTO
from handlers.llm import CallOutcome
from handlers.llm_health import CIRCUIT_OPENED, SKIPPED_CALL
from knowledge.store import Pool

UNANSWERED = [CallOutcome.UNAVAILABLE.value, CallOutcome.TIMEOUT.value, CallOutcome.SKIPPED.value]
# A customer asking again about the same document this soon after an answer means the answer missed.
REASK_WINDOW: LiteralString = "30 minutes"


@dataclass(frozen=True)
class ConversationRow:
    key: str
    org: str | None
    workflow: str | None  # the route of its last routed decision in the week: what settled or escalated it
    first_at: datetime
    staff_spoke: bool
    handed_off: bool
    person_decided: bool
    human_closed_at: datetime | None
    last_outcome: str | None
    last_at: datetime | None
    last_negative: bool
    last_approval_state: str | None
    last_executed_at: datetime | None


@dataclass(frozen=True)
class AnswerRow:
    decision_id: str
    org: str | None
    route: str | None
    negative_feedback: bool
    handed_off_after: bool
    reasked: bool


@dataclass(frozen=True)
class ApprovalRow:
    id: str
    org: str | None
    workflow: str
    kind: str
    state: str
    edited: bool
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None
    decision_id: str | None
    last_error: str | None
    expires_at: datetime
    updated_at: datetime
    created_in_week: bool
    failed_in_week: bool
    rolled_back_in_week: bool
    expired_in_week: bool


@dataclass(frozen=True)
class CostRow:
    org: str | None
    route: str | None
    decisions: int
    tokens: int
    cost_usd: float
    model_turns: int = 0  # decisions that called the model, or meant to
    offline_turns: int = 0  # of those, the ones where a call went unanswered: unreachable, too slow, circuit open
    circuit_opened: int = 0  # calls whose failure opened the circuit breaker
    cost_unknown: int = 0  # decisions with a call of an unpriced model: their cost is not known


@dataclass(frozen=True)
class ErrorRow:
    decision_id: str
    org: str | None
    route: str | None
    at: datetime
    outcome: str
    detail: str


@dataclass(frozen=True)
class HandoffRow:
    id: str
    org: str | None
    workflow: str | None
    reason: str
    level: int
    assigned_to: str | None
    decision_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class FeedbackRow:
    decision_id: str
    org: str | None
    question: str
    comment: str | None
    document: str | None
    at: datetime


_CONVERSATIONS: LiteralString = """
WITH week_turns AS (
    SELECT t.conversation_key, t.role, t.at FROM turns t WHERE t.at >= %(start)s AND t.at < %(end)s
), convs AS (
    SELECT c.key, c.org, min(t.at) FILTER (WHERE t.role = 'customer') AS first_at,
           bool_or(t.role IN ('staff', 'lead')) AS staff_spoke
    FROM conversations c JOIN week_turns t ON t.conversation_key = c.key
    WHERE (%(org)s::text IS NULL OR c.org = %(org)s)
    GROUP BY c.key, c.org
    HAVING count(*) FILTER (WHERE t.role = 'customer') > 0
), decs AS (
    SELECT d.id, d.conversation_key, d.route, d.outcome, d.approval_id, d.created_at
    FROM decisions d JOIN convs ON convs.key = d.conversation_key
    WHERE d.created_at >= %(start)s AND d.created_at < %(end)s AND d.outcome <> 'silent'
), last_dec AS (
    SELECT DISTINCT ON (conversation_key) conversation_key, id, outcome, approval_id, created_at
    FROM decs ORDER BY conversation_key, created_at DESC, id DESC
)
SELECT convs.key, convs.org,
       (SELECT decs.route FROM decs WHERE decs.conversation_key = convs.key AND decs.route IS NOT NULL
        ORDER BY decs.created_at DESC, decs.id DESC LIMIT 1),
       convs.first_at, convs.staff_spoke,
       EXISTS (SELECT 1 FROM handoffs h WHERE h.conversation_key = convs.key
               AND h.created_at >= %(start)s AND h.created_at < %(end)s),
       EXISTS (SELECT 1 FROM approvals a WHERE a.conversation_key = convs.key AND a.decided_by <> %(auto)s
               AND a.decided_at >= %(start)s AND a.decided_at < %(end)s),
       (SELECT max(h.closed_at) FROM handoffs h WHERE h.conversation_key = convs.key
        AND h.closed_at >= %(start)s AND h.closed_at < %(end)s),
       ld.outcome, ld.created_at,
       EXISTS (SELECT 1 FROM feedback f WHERE f.decision_id = ld.id AND NOT f.helpful),
       la.state, la.executed_at
FROM convs
LEFT JOIN last_dec ld ON ld.conversation_key = convs.key
LEFT JOIN approvals la ON la.id = ld.approval_id
ORDER BY convs.first_at, convs.key
"""

_ANSWERS: LiteralString = (
    """
WITH decs AS (
    SELECT d.id, d.org, d.route, d.conversation_key, d.outcome, d.created_at,
           d.retrieved -> 0 ->> 'doc_key' AS top_doc,
           lead(d.created_at) OVER w AS next_at,
           lead(d.route) OVER w AS next_route,
           lead(d.outcome) OVER w AS next_outcome,
           lead(d.retrieved -> 0 ->> 'doc_key') OVER w AS next_top_doc
    FROM decisions d
    WHERE d.created_at >= %(start)s AND d.outcome <> 'silent' AND (%(org)s::text IS NULL OR d.org = %(org)s)
    WINDOW w AS (PARTITION BY d.conversation_key ORDER BY d.created_at, d.id)
)
SELECT a.id, a.org, a.route,
       EXISTS (SELECT 1 FROM feedback f WHERE f.decision_id = a.id AND NOT f.helpful),
       EXISTS (SELECT 1 FROM handoffs h WHERE h.conversation_key = a.conversation_key AND (h.decision_id = a.id
               OR (h.created_at > a.created_at
                   AND h.created_at < coalesce(a.next_at, a.created_at + interval '"""
    + REASK_WINDOW
    + """')))),
       coalesce(a.next_at < a.created_at + interval '"""
    + REASK_WINDOW
    + """'
                AND a.next_route IS NOT DISTINCT FROM a.route
                AND a.next_outcome IN ('answered', 'not_sure')
                AND a.next_top_doc = a.top_doc, false)
FROM decs a
WHERE a.outcome = 'answered' AND a.created_at < %(end)s
ORDER BY a.created_at, a.id
"""
)

_APPROVALS: LiteralString = """
SELECT id, org, workflow, kind, state, edited, decided_by, created_at, decided_at, decision_id, last_error,
       expires_at, updated_at,
       created_at >= %(start)s AND created_at < %(end)s,
       state = 'failed' AND updated_at >= %(start)s AND updated_at < %(end)s,
       coalesce(rolled_back_at >= %(start)s AND rolled_back_at < %(end)s, false),
       state = 'expired' AND expires_at >= %(start)s AND expires_at < %(end)s
FROM approvals
WHERE (%(org)s::text IS NULL OR org = %(org)s)
  AND ((created_at >= %(start)s AND created_at < %(end)s)
       OR (state = 'failed' AND updated_at >= %(start)s AND updated_at < %(end)s)
       OR (rolled_back_at >= %(start)s AND rolled_back_at < %(end)s)
       OR (state = 'expired' AND expires_at >= %(start)s AND expires_at < %(end)s))
ORDER BY created_at, id
"""

# Model call outcomes (handlers.llm.CallOutcome): a turn went without the model when a call was unavailable,
# timed out or was skipped by the open circuit; the failure that opened it says so in its detail.
_COSTS: LiteralString = """
SELECT org, route, count(*), sum(prompt_tokens + completion_tokens), sum(cost_usd),
       count(*) FILTER (WHERE model_calls <> '[]'::jsonb),
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(model_calls) c
                                      WHERE c ->> 'outcome' = ANY(%(unanswered)s))),
       coalesce(sum((SELECT count(*) FROM jsonb_array_elements(model_calls) c
                      WHERE c ->> 'detail' LIKE %(opened)s)), 0),
       count(*) FILTER (WHERE cost_unknown)
FROM decisions
WHERE created_at >= %(start)s AND created_at < %(end)s AND (%(org)s::text IS NULL OR org = %(org)s)
GROUP BY org, route ORDER BY org NULLS FIRST, route NULLS FIRST
"""

# Bot errors (the catch-all fired), model calls that failed and fell back, and queued turns that failed
# (the database or a platform was down; the turn was retried, or is still waiting). A queued turn's
# decision id is derived from its event (handlers.decisions.decision_id_for), so `explain` finds it.
# Calls the open circuit skipped are not listed one by one: the model endpoint line counts them.
_ERRORS: LiteralString = """
SELECT * FROM (
SELECT d.id, d.org, d.route, d.created_at, d.outcome,
       coalesce((SELECT string_agg(n, '; ') FROM jsonb_array_elements_text(d.notes) n
                 WHERE n LIKE 'error:%%'
                    OR ((n LIKE 'tool routing failed%%' OR n LIKE '%%(model error:%%') AND n NOT LIKE %(skipped)s)), '')
FROM decisions d
WHERE d.created_at >= %(start)s AND d.created_at < %(end)s AND (%(org)s::text IS NULL OR d.org = %(org)s)
  AND (d.outcome = 'error' OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(d.notes) n
                                      WHERE (n LIKE 'tool routing failed%%' OR n LIKE '%%(model error:%%')
                                        AND n NOT LIKE %(skipped)s))
UNION ALL
SELECT 'dec_' || left(encode(sha256(convert_to(e.platform || ':' || e.event_key, 'UTF8')), 'hex'), 12),
       NULL, NULL, e.received_at,
       CASE WHEN e.state = 'done' THEN 'turn retried' ELSE 'turn still waiting' END,
       e.attempts || ' attempt(s); last error: ' || e.last_error
FROM inbound_events e
WHERE e.received_at >= %(start)s AND e.received_at < %(end)s AND %(org)s::text IS NULL
  AND e.last_error IS NOT NULL
) errors ORDER BY 4, 1
"""

_UNCLAIMED: LiteralString = """
SELECT id, org, workflow, reason, level, assigned_to, decision_id, created_at FROM handoffs
WHERE created_at >= %(start)s AND created_at < %(end)s AND claimed_at IS NULL AND state = 'open'
  AND (%(org)s::text IS NULL OR org = %(org)s)
ORDER BY created_at, id
"""

_NEGATIVE_FEEDBACK: LiteralString = """
SELECT f.decision_id, d.org, d.inbound, f.comment, d.retrieved -> 0 ->> 'title', f.at
FROM feedback f JOIN decisions d ON d.id = f.decision_id
WHERE NOT f.helpful AND f.at >= %(start)s AND f.at < %(end)s AND (%(org)s::text IS NULL OR d.org = %(org)s)
ORDER BY f.at, f.id
"""

# A digest a publisher posted is kept as delivered; one nobody posted stays pending for the outbox drains.
_RECORD: LiteralString = """
INSERT INTO outbox (kind, text, payload, source, delivered_at)
VALUES ('digest', %s, %s, %s, CASE WHEN %s THEN now() END) RETURNING id
"""


class DigestQueries:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def _rows(self, query: LiteralString, start: datetime, end: datetime, org: str | None) -> list[Any]:
        params = {
            "start": start,
            "end": end,
            "org": org,
            "auto": POLICY_AUTO,
            "unanswered": UNANSWERED,
            "opened": f"%{CIRCUIT_OPENED}%",
            "skipped": f"%{SKIPPED_CALL}%",
        }
        async with self._pool.connection() as conn:
            return await (await conn.execute(query, params)).fetchall()

    async def conversations(self, start: datetime, end: datetime, *, org: str | None) -> list[ConversationRow]:
        rows = await self._rows(_CONVERSATIONS, start, end, org)
        return [ConversationRow(*row) for row in rows]

    async def answers(self, start: datetime, end: datetime, *, org: str | None) -> list[AnswerRow]:
        return [AnswerRow(*row) for row in await self._rows(_ANSWERS, start, end, org)]

    async def approvals(self, start: datetime, end: datetime, *, org: str | None) -> list[ApprovalRow]:
        return [ApprovalRow(*row) for row in await self._rows(_APPROVALS, start, end, org)]

    async def costs(self, start: datetime, end: datetime, *, org: str | None) -> list[CostRow]:
        rows = await self._rows(_COSTS, start, end, org)
        return [
            CostRow(row[0], row[1], int(row[2]), int(row[3] or 0), float(row[4] or 0.0), *(int(n) for n in row[5:9]))
            for row in rows
        ]

    async def errors(self, start: datetime, end: datetime, *, org: str | None) -> list[ErrorRow]:
        return [ErrorRow(*row) for row in await self._rows(_ERRORS, start, end, org)]

    async def unclaimed_handoffs(self, start: datetime, end: datetime, *, org: str | None) -> list[HandoffRow]:
        return [HandoffRow(*row) for row in await self._rows(_UNCLAIMED, start, end, org)]

    async def negative_feedback(self, start: datetime, end: datetime, *, org: str | None) -> list[FeedbackRow]:
        return [FeedbackRow(*row) for row in await self._rows(_NEGATIVE_FEEDBACK, start, end, org)]

    async def record(self, *, text: str, payload: dict[str, Any], source: str, posted: bool) -> int:
        """Keep a digest in the outbox, so nothing is lost whether or not a chat platform took it."""
        async with self._pool.connection() as conn:
            row = await (await conn.execute(_RECORD, (text, Jsonb(payload), source, posted))).fetchone()
        assert row is not None
        return int(row[0])
