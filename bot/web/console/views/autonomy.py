"""Autonomy: each workflow's stage and its readiness over the last two weeks; promote, demote and the kill
switch go through escalation (stage_change.py, autonomy.py), which checks the lead and audits the change."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services import Services
from escalation.autonomy import Readiness
from escalation.models import Actor, Stage
from escalation.stage_change import DEMOTE, PROMOTE, StageChange, change_stage

ORDER = (Stage.SHADOW, Stage.APPROVE, Stage.AUTO)


@dataclass(frozen=True)
class WorkflowAutonomy:
    readiness: Readiness
    set_by: str | None
    previous_stage: Stage | None  # where Demote goes; None at shadow


@dataclass(frozen=True)
class AutonomyView:
    workflows: list[WorkflowAutonomy]
    kill_switch: bool


async def autonomy_view(services: Services) -> AutonomyView:
    autonomy = services.escalation.autonomy
    stages = await autonomy.stages()
    workflows = []
    for name, workflow in services.escalation.policy.workflows.items():
        if workflow.action is None:  # answers and hand-offs have no stage
            continue
        readiness = await autonomy.readiness(name)
        position = ORDER.index(readiness.stage)
        workflows.append(
            WorkflowAutonomy(
                readiness, stages.get(name, (None, None, None))[1], ORDER[position - 1] if position else None
            )
        )
    return AutonomyView(workflows, await autonomy.kill_switch())


async def move(services: Services, actor: Actor, *, workflow: str, stage: Stage) -> StageChange:
    """One step up or down, for a lead (escalation refuses anyone else, and a step that skips a stage)."""
    autonomy = services.escalation.autonomy
    current = await autonomy.stage(workflow)
    verb = PROMOTE if ORDER.index(stage) > ORDER.index(current) else DEMOTE
    return await change_stage(autonomy, actor, verb=verb, workflow=workflow, stage=stage, via="the web console")


async def set_kill_switch(services: Services, actor: Actor, *, enabled: bool) -> None:
    await services.escalation.autonomy.set_kill_switch(enabled, by=actor)
