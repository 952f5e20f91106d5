"""Hand-offs to humans: created with context, claimed, handed back, closed, escalated when unclaimed."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, LiteralString

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from escalation import audit
from escalation.audit import Pool
from escalation.errors import AlreadyDecided, EscalationError, NotAuthorized
from escalation.models import SYSTEM, Actor, Handoff, HandoffState, Role
from escalation.policy import Policy

_COLUMNS: LiteralString = (
    "id, org, conversation_key, workflow, reason, summary, would_have_said, links, approval_id, decision_id, "
    "state, level, assigned_to, claimed_by, created_at"
)


def _handoff(row: tuple[Any, ...]) -> Handoff:
    values = list(row)
    values[10] = HandoffState(values[10])
    return Handoff(*values)


class HandoffNotFound(EscalationError):
    """No hand-off has that id."""


class HandoffService:
    def __init__(self, pool: Pool, policy: Policy, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._pool = pool
        self._policy = policy
        self._clock = clock

    def _path(self, workflow: str | None) -> list[str]:
        policy = self._policy.workflow(workflow) if workflow else None
        return policy.escalation_path if policy else []

    async def create(
        self,
        *,
        conversation_key: str,
        reason: str,
        summary: str,
        org: str | None = None,
        workflow: str | None = None,
        would_have_said: str | None = None,
        links: list[str] | None = None,
        approval_id: str | None = None,
        decision_id: str | None = None,
        dedupe_key: str | None = None,
    ) -> Handoff:
        handoff, _ = await self.create_once(
            conversation_key=conversation_key,
            reason=reason,
            summary=summary,
            org=org,
            workflow=workflow,
            would_have_said=would_have_said,
            links=links,
            approval_id=approval_id,
            decision_id=decision_id,
            dedupe_key=dedupe_key,
        )
        return handoff

    async def create_once(
        self,
        *,
        conversation_key: str,
        reason: str,
        summary: str,
        org: str | None = None,
        workflow: str | None = None,
        would_have_said: str | None = None,
        links: list[str] | None = None,
        approval_id: str | None = None,
        decision_id: str | None = None,
        dedupe_key: str | None = None,
    ) -> tuple[Handoff, bool]:
        """The hand-off, and whether this call opened it: with a `dedupe_key` (an inbound event, an unbound
        channel) a second call — a turn re-run after a crash, say — returns the first one's hand-off."""
        path = self._path(workflow)
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                f"""INSERT INTO handoffs (id, org, conversation_key, workflow, reason, summary, would_have_said, links,
                        approval_id, decision_id, state, assigned_to, dedupe_key)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'open', %s, %s)
                    ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING RETURNING {_COLUMNS}""",
                (
                    "hnd_" + secrets.token_hex(6),
                    org,
                    conversation_key,
                    workflow,
                    reason,
                    summary,
                    would_have_said,
                    Jsonb(links or []),
                    approval_id,
                    decision_id,
                    path[0] if path else None,
                    dedupe_key,
                ),
            )
            row = await cur.fetchone()
            if row is None:  # opened before under this key
                cur = await conn.execute(f"SELECT {_COLUMNS} FROM handoffs WHERE dedupe_key = %s", (dedupe_key,))
                existing = await cur.fetchone()
                assert existing is not None
                return _handoff(existing), False
            handoff = _handoff(row)
            await audit.record(
                conn,
                "handoff_created",
                actor=SYSTEM,
                workflow=workflow,
                org=org,
                subject=("handoff", handoff.id),
                decision_id=decision_id,
                detail={"reason": reason, "assigned_to": handoff.assigned_to},
            )
        return handoff, True

    async def get(self, handoff_id: str) -> Handoff:
        async with self._pool.connection() as conn:
            row = await (await conn.execute(f"SELECT {_COLUMNS} FROM handoffs WHERE id = %s", (handoff_id,))).fetchone()
        if row is None:
            raise HandoffNotFound(f"There is no hand-off {handoff_id}.")
        return _handoff(row)

    async def claim(self, handoff_id: str, actor: Actor) -> Handoff:
        """The conversation now belongs to `actor`; the bot stays quiet in it until handed back."""
        return await self._move(
            handoff_id,
            actor,
            "handoff_claimed",
            from_states=("open", "returned"),
            to="claimed",
            sets="claimed_by = %(actor)s, claimed_at = now()",
        )

    async def hand_back(self, handoff_id: str, actor: Actor) -> Handoff:
        current = await self.get(handoff_id)
        if current.claimed_by != actor.id and actor.role is not Role.LEAD:
            raise NotAuthorized(f"Only {current.claimed_by} or a team lead can hand this conversation back.")
        return await self._move(
            handoff_id, actor, "handoff_returned", from_states=("claimed",), to="returned", sets="claimed_by = NULL"
        )

    async def close(self, handoff_id: str, actor: Actor) -> Handoff:
        return await self._move(
            handoff_id,
            actor,
            "handoff_closed",
            from_states=("open", "claimed", "returned"),
            to="closed",
            sets="closed_by = %(actor)s, closed_at = now()",
        )

    async def _move(
        self, handoff_id: str, actor: Actor, event: str, *, from_states: tuple[str, ...], to: str, sets: LiteralString
    ) -> Handoff:
        if actor.role is Role.CUSTOMER:
            raise NotAuthorized("Customers cannot take over or close hand-offs.")
        before = await self.get(handoff_id)
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                f"UPDATE handoffs SET state = %(to)s, {sets}, updated_at = now() "
                f"WHERE id = %(id)s AND state = ANY(%(from)s) RETURNING {_COLUMNS}",
                {"to": to, "actor": actor.id, "id": handoff_id, "from": list(from_states)},
            )
            row = await cur.fetchone()
            if row is None:
                raise AlreadyDecided(
                    f"This hand-off is already {before.state.value}"
                    + (f" by {before.claimed_by}." if before.claimed_by else ".")
                )
            after = _handoff(row)
            await audit.record(
                conn,
                event,
                actor=actor,
                workflow=after.workflow,
                org=after.org,
                subject=("handoff", after.id),
                decision_id=after.decision_id,
                before={"state": before.state.value, "claimed_by": before.claimed_by},
                after={"state": after.state.value, "claimed_by": after.claimed_by},
            )
        return after

    async def owner(self, conversation_key: str) -> str | None:
        """The staff member who holds this conversation, if any: the bot must stay silent then."""
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT claimed_by FROM handoffs WHERE conversation_key = %s AND state = 'claimed' "
                    "ORDER BY claimed_at DESC LIMIT 1",
                    (conversation_key,),
                )
            ).fetchone()
        return row[0] if row else None

    async def escalate_overdue(self) -> list[Handoff]:
        """Open hand-offs nobody claimed within the SLA move to the next level of their escalation path."""
        cutoff = self._clock() - self._policy.handoff_sla
        escalated = []
        async with self._pool.connection() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM handoffs WHERE state = 'open' "
                    "AND coalesce(escalated_at, created_at) <= %s ORDER BY created_at",
                    (cutoff,),
                )
            ).fetchall()
        for handoff in map(_handoff, rows):
            path = self._path(handoff.workflow)
            level = handoff.level + 1
            assignee = path[min(level, len(path) - 1)] if path else None
            async with self._pool.connection() as conn, conn.transaction():
                moved = await self._escalate_one(conn, handoff, level, assignee, cutoff)
            if moved is not None:
                escalated.append(moved)
        return escalated

    async def _escalate_one(
        self, conn: AsyncConnection[Any], handoff: Handoff, level: int, assignee: str | None, cutoff: datetime
    ) -> Handoff | None:
        cur = await conn.execute(
            f"""UPDATE handoffs SET level = %s, assigned_to = %s, escalated_at = %s, updated_at = now()
                WHERE id = %s AND state = 'open' AND coalesce(escalated_at, created_at) <= %s RETURNING {_COLUMNS}""",
            (level, assignee, self._clock(), handoff.id, cutoff),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        moved = _handoff(row)
        await audit.record(
            conn,
            "handoff_escalated",
            actor=SYSTEM,
            workflow=moved.workflow,
            org=moved.org,
            subject=("handoff", moved.id),
            decision_id=moved.decision_id,
            before={"level": handoff.level, "assigned_to": handoff.assigned_to},
            after={"level": moved.level, "assigned_to": moved.assigned_to},
        )
        return moved

    async def open_handoffs(self) -> list[Handoff]:
        async with self._pool.connection() as conn:
            rows = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM handoffs WHERE state <> 'closed' ORDER BY created_at")
            ).fetchall()
        return [_handoff(row) for row in rows]
