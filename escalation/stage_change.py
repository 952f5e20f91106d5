"""Promote / Demote from the weekly digest: the one channel-neutral function the Slack and Teams buttons call."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from escalation.autonomy import Autonomy
from escalation.errors import NotAuthorized, PolicyError
from escalation.models import STAGE_LADDER, Actor, Role, Stage

log = logging.getLogger(__name__)
PROMOTE = "digest_promote"
DEMOTE = "digest_demote"


@dataclass(frozen=True)
class StageChange:
    workflow: str
    before: Stage
    after: Stage
    changed: bool
    message: str  # what the clicker is told, true in every case


def parse_value(value: str | Mapping[str, Any]) -> tuple[str, Stage, str | None]:
    """A button's value (`{"workflow", "stage", "org"}`, as a JSON string from Slack or a dict from Teams)."""
    data = json.loads(value) if isinstance(value, str) else dict(value)
    try:
        return str(data["workflow"]), Stage(data["stage"]), (str(data["org"]) if data.get("org") else None)
    except (KeyError, ValueError) as exc:
        raise PolicyError(f"this button carries no valid workflow and stage ({exc})") from None


async def change_stage(
    autonomy: Autonomy,
    actor: Actor,
    *,
    verb: str,
    workflow: str,
    stage: Stage,
    org: str | None = None,
    via: str = "the weekly digest",
) -> StageChange:
    """Move `workflow` one step to `stage` for a lead who clicked Promote (`digest_promote`) or Demote
    (`digest_demote`). Audited by `Autonomy.set_stage`; a stale button (someone already moved it) changes
    nothing and says so."""
    if verb not in (PROMOTE, DEMOTE):
        raise PolicyError(f"unknown digest action {verb!r}")
    if actor.role is not Role.LEAD:
        raise NotAuthorized(f"Only team leads may {'promote' if verb == PROMOTE else 'demote'} workflows.")
    before = await autonomy.stage(workflow)
    if before is stage:
        return StageChange(workflow, before, stage, False, f"{workflow} is already at {stage.value}; nothing changed.")
    step = STAGE_LADDER.index(stage) - STAGE_LADDER.index(before)
    if step != (1 if verb == PROMOTE else -1):
        return StageChange(
            workflow,
            before,
            before,
            False,
            f"{workflow} is at {before.value} now, so this button (to {stage.value}) is out of date; nothing changed.",
        )
    scope = f" ({org})" if org else ""
    change = autonomy.promote if verb == PROMOTE else autonomy.set_stage
    await change(workflow, stage, by=actor, reason=f"{'promoted' if verb == PROMOTE else 'demoted'} from {via}{scope}")
    log.info("%s moved %s from %s to %s from %s", actor.id, workflow, before.value, stage.value, via)
    return StageChange(
        workflow, before, stage, True, f"{actor.label} moved {workflow} from {before.value} to {stage.value}."
    )


async def digest_button(autonomy: Autonomy, actor: Actor, value: str | Mapping[str, Any]) -> str:
    """For adapters: a Promote/Demote click's value in, the message for the clicker out. The direction follows
    from the target and the workflow's stage now; a button gone stale says so instead of jumping two steps."""
    workflow, stage, org = parse_value(value)
    current = await autonomy.stage(workflow)
    verb = PROMOTE if STAGE_LADDER.index(stage) > STAGE_LADDER.index(current) else DEMOTE
    return (await change_stage(autonomy, actor, verb=verb, workflow=workflow, stage=stage, org=org)).message
