"""Rows for digest tests, written straight to PostgreSQL with the timestamps the test needs."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from bot.services import Services
from handlers.eval_history import EvalHistory, current_fingerprint
from knowledge.gaps import GapReason
from knowledge.sources import KnowledgeSources

TABLES = (
    "conversations, turns, decisions, feedback, approvals, handoffs, autonomy_stages, policy_switches, audit_log, "
    "kb_gaps, job_runs, outbox, outbox_deliveries, eval_runs"
)


async def empty_tables(services: Services) -> None:
    async with services.pool.connection() as conn:
        await conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE".encode())


class Seeder:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def _execute(self, query: str, params: tuple[Any, ...]) -> None:
        async with self.services.pool.connection() as conn:
            await conn.execute(query.encode(), params)

    async def message(
        self,
        key: str,
        org: str | None,
        at: datetime,
        *,
        decision: str,
        outcome: str,
        route: str | None = None,
        after: timedelta = timedelta(minutes=1),
        cost: float = 0.0,
        top: tuple[str, str] | None = None,
        notes: tuple[str, ...] = (),
        approval_id: str | None = None,
        text: str = "a question",
    ) -> datetime:
        """A customer message at `at` and the bot's decision `after` it; returns the decision's time."""
        decided = at + timedelta(seconds=after.total_seconds())
        await self._execute(
            "INSERT INTO conversations (key, platform, org, created_at) VALUES (%s, 'slack', %s, %s) "
            "ON CONFLICT (key) DO NOTHING",
            (key, org, at),
        )
        await self.turn(key, "customer", at, text=text, decision_id=decision)
        retrieved = [{"doc_key": top[0], "title": top[1]}] if top else []
        await self._execute(
            "INSERT INTO decisions (id, conversation_key, org, platform, author, inbound, route, outcome, "
            "cost_usd, prompt_tokens, retrieved, notes, approval_id, created_at) "
            "VALUES (%s, %s, %s, 'slack', 'U-cust', %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                decision,
                key,
                org,
                text,
                route,
                outcome,
                cost,
                round(cost * 100_000),
                Jsonb(retrieved),
                Jsonb(list(notes)),
                approval_id,
                decided,
            ),
        )
        if outcome != "silent":
            await self.turn(key, "bot", decided, text="reply", decision_id=decision)
        return decided

    async def turn(self, key: str, role: str, at: datetime, *, text: str = "", decision_id: str | None = None) -> None:
        await self._execute(
            "INSERT INTO turns (conversation_key, role, author, text, decision_id, at) VALUES (%s, %s, %s, %s, %s, %s)",
            (key, role, f"U-{role}", text, decision_id, at),
        )

    async def staff_turn(self, key: str, org: str | None, at: datetime, *, decision: str) -> None:
        await self.turn(key, "staff", at, text="I'll take this", decision_id=decision)
        await self._execute(
            "INSERT INTO decisions (id, conversation_key, org, platform, author, inbound, outcome, created_at) "
            "VALUES (%s, %s, %s, 'slack', 'U-staff', 'taking over', 'silent', %s)",
            (decision, key, org, at),
        )

    async def approval(
        self,
        approval_id: str,
        *,
        workflow: str,
        org: str | None,
        key: str | None,
        created: datetime,
        state: str,
        decision_id: str | None = None,
        decided_by: str | None = None,
        decided_at: datetime | None = None,
        edited: bool = False,
        executed_at: datetime | None = None,
        updated: datetime | None = None,
        expires: datetime | None = None,
        rolled_back_at: datetime | None = None,
        last_error: str | None = None,
    ) -> None:
        await self._execute(
            "INSERT INTO approvals (id, workflow, action, params, proposed_params, org, conversation_key, "
            "decision_id, requested_by, risk, rule, state, decided_by, decided_at, edited, expires_at, "
            "idempotency_key, last_error, executed_at, rolled_back_at, created_at, updated_at) "
            "VALUES (%s, %s, %s, '{}', '{}', %s, %s, %s, 'U-cust', 'medium', 'approve_stage', %s, %s, %s, %s, "
            "%s, %s, %s, %s, %s, %s, %s)",
            (
                approval_id,
                workflow,
                workflow,
                org,
                key,
                decision_id,
                state,
                decided_by,
                decided_at,
                edited,
                expires or created + timedelta(hours=24),
                secrets.token_hex(8),
                last_error,
                executed_at,
                rolled_back_at,
                created,
                updated or decided_at or created,
            ),
        )

    async def handoff(
        self,
        handoff_id: str,
        *,
        key: str,
        org: str | None,
        created: datetime,
        reason: str,
        state: str = "open",
        workflow: str | None = None,
        decision_id: str | None = None,
        claimed_at: datetime | None = None,
        closed_at: datetime | None = None,
    ) -> None:
        await self._execute(
            "INSERT INTO handoffs (id, org, conversation_key, workflow, reason, summary, decision_id, state, "
            "assigned_to, claimed_by, claimed_at, closed_at, created_at) "
            "VALUES (%s, %s, %s, %s, %s, 'summary', %s, %s, 'group:support-tier1', %s, %s, %s, %s)",
            (
                handoff_id,
                org,
                key,
                workflow,
                reason,
                decision_id,
                state,
                "U-staff" if claimed_at else None,
                claimed_at,
                closed_at,
                created,
            ),
        )

    async def feedback(self, decision_id: str, at: datetime, *, helpful: bool, comment: str | None = None) -> None:
        await self._execute(
            "INSERT INTO feedback (decision_id, author, helpful, comment, at) VALUES (%s, 'U-cust', %s, %s, %s)",
            (decision_id, helpful, comment, at),
        )

    async def failed_job(self, job: str, slot: datetime, *, error: str) -> None:
        await self._execute(
            "INSERT INTO job_runs (job, slot, state, attempts, claimed_by, error) "
            "VALUES (%s, %s, 'failed', 3, 'a', %s)",
            (job, slot, error),
        )

    async def failed_delivery(self, at: datetime, *, text: str, error: str) -> None:
        async with self.services.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO outbox (kind, text, source, created_at) VALUES ('staff_note', %s, 'test', %s) "
                    "RETURNING id",
                    (text, at),
                )
            ).fetchone()
            assert row is not None
            await conn.execute(
                "INSERT INTO outbox_deliveries (outbox_id, platform, state, attempts, last_error, updated_at) "
                "VALUES (%s, 'slack', 'failed', 5, %s, %s)",
                (row[0], error, at),
            )

    async def gap(self, question: str, at: datetime, *, reason: str, org: str | None = "globex") -> None:
        gap_id = await self.services.gaps.record(question, reason=GapReason(reason), org=org)
        await self._execute("UPDATE kb_gaps SET created_at = %s WHERE id = %s", (at, gap_id))


async def scenarios_passed(services: Services, *workflows: str) -> None:
    """A stored scenario run on the current policy, prompts, model and knowledge in which every scenario of
    `workflows` passed: what promotion needs (issue 16)."""
    fingerprint = await current_fingerprint(services.escalation.policy, KnowledgeSources(services.pool), model=None)
    figures = {"pass_rate": 1.0, "failures": [], "failing_workflows": {}, "passing_workflows": list(workflows)}
    await EvalHistory(services.pool).add(
        kind="scenarios", mode="offline", figures=figures, fingerprint=fingerprint, source="test"
    )
