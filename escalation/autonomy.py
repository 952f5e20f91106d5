"""Staged autonomy per workflow (shadow → approve → auto), the kill switch, and promotion readiness."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from escalation import audit
from escalation.audit import Pool
from escalation.errors import NotAuthorized, PolicyError, PromotionRefused
from escalation.models import POLICY_AUTO, STAGE_LADDER, Actor, Role, Stage
from escalation.policy import Policy, Promotion

KILL_SWITCH = "kill_switch"


@dataclass(frozen=True)
class WeekFigures:
    start: datetime
    decisions: int
    approved_unchanged: int
    approved_with_changes: int
    denied: int
    expired: int
    failures: int
    rollbacks: int

    @property
    def unchanged_share(self) -> float:
        decided = self.approved_unchanged + self.approved_with_changes + self.denied + self.expired
        return self.approved_unchanged / decided if decided else 0.0

    @property
    def denial_share(self) -> float:
        return self.denied / self.decisions if self.decisions else 0.0

    def problems(self, criteria: Promotion) -> list[str]:
        found = []
        if self.decisions < criteria.min_decisions_per_week:
            found.append(f"{self.decisions} decisions (< {criteria.min_decisions_per_week})")
        if self.unchanged_share < criteria.min_unchanged_share:
            found.append(f"{self.unchanged_share:.0%} approved unchanged (< {criteria.min_unchanged_share:.0%})")
        if self.denial_share > criteria.max_denial_share:
            found.append(f"{self.denial_share:.0%} denied (> {criteria.max_denial_share:.0%})")
        if self.failures > criteria.max_failures:
            found.append(f"{self.failures} failed actions")
        if self.rollbacks > criteria.max_rollbacks:
            found.append(f"{self.rollbacks} rollbacks")
        return found


@dataclass(frozen=True)
class Readiness:
    workflow: str
    stage: Stage
    next_stage: Stage | None
    weeks: list[WeekFigures]  # oldest first
    blockers: list[str]

    @property
    def ready(self) -> bool:
        return self.next_stage is not None and not self.blockers


_WEEK_SQL = """
SELECT count(*) FILTER (WHERE kind = 'action'),
       count(*) FILTER (WHERE kind = 'action' AND decided_by <> %s AND NOT edited
                        AND state IN ('approved', 'executing', 'executed', 'failed', 'rolled_back')),
       count(*) FILTER (WHERE kind = 'action' AND edited),
       count(*) FILTER (WHERE kind = 'action' AND state = 'denied'),
       count(*) FILTER (WHERE kind = 'action' AND state = 'expired'),
       count(*) FILTER (WHERE state = 'failed'),
       count(*) FILTER (WHERE kind = 'action' AND state = 'rolled_back')
FROM approvals WHERE workflow = %s AND created_at > %s AND created_at <= %s
"""


class ScenarioGate(Protocol):
    """Whether a workflow's scenarios pass on what runs now (policy, prompts, model, knowledge); the composition
    root provides it (handlers.eval_gate). Each blocker is a sentence naming what stands in the way."""

    async def blockers(self, workflow: str) -> list[str]: ...


class Autonomy:
    def __init__(self, pool: Pool, policy: Policy, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._pool = pool
        self._policy = policy
        self._clock = clock
        self.gate: ScenarioGate | None = None  # set by the composition root; None: promotion is not gated

    async def scenario_blockers(self, workflow: str) -> list[str]:
        return await self.gate.blockers(workflow) if self.gate is not None else []

    async def promote(self, workflow: str, stage: Stage, *, by: Actor, reason: str | None = None) -> Stage:
        """`set_stage` for a person asking for more autonomy (the CLI, the digest's button): refused, naming the
        failing scenario, unless the workflow's scenarios pass on the current policy, prompts, model and
        knowledge. Moving down (or sideways) is never held back."""
        self._known(workflow)
        before = await self.stage(workflow)
        promoting = STAGE_LADDER.index(stage) > STAGE_LADDER.index(before)
        if promoting and (blockers := await self.scenario_blockers(workflow)):
            raise PromotionRefused(f"{workflow} stays at {before.value}: {'; '.join(blockers)}")
        return await self.set_stage(workflow, stage, by=by, reason=reason)

    def _known(self, workflow: str) -> None:
        if self._policy.workflow(workflow) is None:
            raise PolicyError(
                f"unknown workflow '{workflow}'; the policy has {', '.join(sorted(self._policy.workflows))}"
            )

    async def stages(self) -> dict[str, tuple[Stage, str | None, datetime | None]]:
        """(stage, set by, set at) per workflow; the policy file's stage until someone changes it."""
        async with self._pool.connection() as conn:
            rows = await (await conn.execute("SELECT workflow, stage, set_by, set_at FROM autonomy_stages")).fetchall()
        stored = {row[0]: (Stage(row[1]), row[2], row[3]) for row in rows}
        return {
            name: stored.get(name, (workflow.autonomy, None, None)) for name, workflow in self._policy.workflows.items()
        }

    async def stage(self, workflow: str) -> Stage:
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute("SELECT stage FROM autonomy_stages WHERE workflow = %s", (workflow,))
            ).fetchone()
        if row:
            return Stage(row[0])
        policy = self._policy.workflow(workflow)
        return policy.autonomy if policy else Stage.SHADOW

    async def set_stage(self, workflow: str, stage: Stage, *, by: Actor, reason: str | None = None) -> Stage:
        self._known(workflow)
        if by.role is Role.CUSTOMER:
            raise NotAuthorized("Customers cannot change autonomy.")
        before = await self.stage(workflow)
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO autonomy_stages (workflow, stage, set_by, reason) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (workflow) DO UPDATE SET stage = EXCLUDED.stage, set_by = EXCLUDED.set_by, "
                "set_at = now(), reason = EXCLUDED.reason",
                (workflow, stage.value, by.id, reason),
            )
            await audit.record(
                conn,
                "autonomy_changed",
                actor=by,
                workflow=workflow,
                subject=("workflow", workflow),
                before={"stage": before.value},
                after={"stage": stage.value},
                detail={"reason": reason},
            )
        return before

    async def kill_switch(self) -> bool:
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute("SELECT enabled FROM policy_switches WHERE name = %s", (KILL_SWITCH,))
            ).fetchone()
        return bool(row[0]) if row else self._policy.kill_switch

    async def set_kill_switch(self, enabled: bool, *, by: Actor) -> None:
        if by.role is Role.CUSTOMER:
            raise NotAuthorized("Customers cannot use the kill switch.")
        before = await self.kill_switch()
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO policy_switches (name, enabled, set_by) VALUES (%s, %s, %s) ON CONFLICT (name) "
                "DO UPDATE SET enabled = EXCLUDED.enabled, set_by = EXCLUDED.set_by, set_at = now()",
                (KILL_SWITCH, enabled, by.id),
            )
            await audit.record(
                conn,
                "kill_switch",
                actor=by,
                subject=("switch", KILL_SWITCH),
                before={"enabled": before},
                after={"enabled": enabled},
            )

    async def week(self, workflow: str, start: datetime) -> WeekFigures:
        async with self._pool.connection() as conn:
            week = (POLICY_AUTO, workflow, start, start + timedelta(days=7))
            row = await (await conn.execute(_WEEK_SQL, week)).fetchone()
        assert row is not None
        return WeekFigures(start, *(int(value) for value in row))

    async def readiness(self, workflow: str, *, weeks: int = 2) -> Readiness:
        """Promotion needs `weeks` consecutive stable weekly cycles, judged by the workflow's criteria."""
        self._known(workflow)
        policy = self._policy.workflows[workflow]
        stage = await self.stage(workflow)
        position = STAGE_LADDER.index(stage)
        next_stage = STAGE_LADDER[position + 1] if position + 1 < len(STAGE_LADDER) else None
        now = self._clock()
        figures = [await self.week(workflow, now - timedelta(days=7 * (weeks - i))) for i in range(weeks)]
        blockers = [
            f"week of {week.start:%Y-%m-%d}: {problem}"
            for week in figures
            for problem in week.problems(policy.promotion)
        ]
        if next_stage is None:
            blockers = ["already fully automatic"]
        else:
            blockers += await self.scenario_blockers(workflow)
        return Readiness(workflow, stage, next_stage, figures, blockers)
