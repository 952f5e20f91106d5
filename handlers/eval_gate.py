"""The autonomy gate: a workflow gets more autonomy only when a stored scenario run made on exactly the current
policy, prompts, model and knowledge passed every scenario that covers it. A stored run is used rather than running
the scenarios at promotion time: a run loads the knowledge into a database of its own (tens of seconds), far too
slow for a button click, and the weekly job (or `supportbot eval scenarios`) makes one whenever anything changes."""

from __future__ import annotations

from typing import Any

from escalation.policy import Policy
from handlers.eval_history import EvalHistory, current_fingerprint
from knowledge.sources import KnowledgeSources

HOW = "run `supportbot eval scenarios` (the weekly evaluation does too)"


class ScenarioGate:
    def __init__(self, history: EvalHistory, policy: Policy, sources: KnowledgeSources, *, model: str | None) -> None:
        self._history = history
        self._policy = policy
        self._sources = sources
        self._model = model

    async def blockers(self, workflow: str) -> list[str]:
        fingerprint = await current_fingerprint(self._policy, self._sources, model=self._model)
        run = await self._history.latest_scenarios(fingerprint)
        if run is None:
            return [f"no scenario run on the current policy, prompts, model ({fingerprint.model}) and knowledge: {HOW}"]
        when = f"{run.ran_at:%Y-%m-%d %H:%M} UTC"
        failing = run.figures.get("failing_workflows", {}).get(workflow)
        if failing:
            return [_failed(scenario, run.figures, run.database, when) for scenario in failing]
        if workflow not in run.figures.get("passing_workflows", []):
            return [f"no scenario covers {workflow} (run of {when}): add one to the scenario files"]
        return []


def _failed(scenario: str, figures: dict[str, Any], database: str | None, when: str) -> str:
    failure: dict[str, Any] = next((f for f in figures.get("failures", []) if f.get("scenario") == scenario), {})
    what = (
        f" at {failure['step']}: {failure['expectation']} expected {failure['expected']}, got {failure['got']}"
        if failure
        else ""
    )
    explain = (
        f" (supportbot explain {failure['decision_id']}{f' --database {database}' if database else ''})"
        if failure.get("decision_id")
        else ""
    )
    return f"scenario {scenario} failed in the run of {when}{what}{explain}"
