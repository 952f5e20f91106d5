"""What the core, escalation and knowledge report, turned into metrics (they know nothing of Prometheus):
decision records as they are saved, audit rows as they are written, searches as they finish."""

from __future__ import annotations

from typing import Any

from bot.metrics import band, metrics
from handlers.decisions import DecisionRecord, DecisionStore
from knowledge.models import SearchMode

_ANSWER_OUTCOMES = frozenset({"answered", "not_sure"})
_APPROVAL_EVENTS = {
    "approval_requested": "requested",
    "auto_approved": "auto_approved",
    "shadow_decision": "shadowed",
    "approved": "approved",
    "approved_with_changes": "approved",
    "denied": "denied",
    "expired": "expired",
    "decision_refused": "refused",
}
_HANDOFF_EVENTS = {
    "handoff_created": "opened",
    "handoff_claimed": "claimed",
    "handoff_returned": "returned",
    "handoff_closed": "closed",
    "handoff_escalated": "escalated",
}


class ObservedDecisions(DecisionStore):
    """The decision store the core writes through: each saved turn is counted once it is stored."""

    async def save(self, record: DecisionRecord) -> None:
        await super().save(record)
        observe_decision(record)


def observe_decision(record: DecisionRecord) -> None:
    found = metrics()
    found.turn_seconds.labels(record.route or "none", record.outcome).observe((record.latency_ms or 0.0) / 1000)
    if record.outcome in _ANSWER_OUTCOMES and record.confidence is not None:
        found.answers.labels(band(record.confidence), record.outcome).inc()
    for call in record.model_calls:
        model = str(call.get("model") or "unknown")
        found.model_calls.labels(model, str(call.get("step")), str(call.get("outcome"))).inc()
        found.model_tokens.labels(model, "input").inc(int(call.get("prompt_tokens") or 0))
        found.model_tokens.labels(model, "output").inc(int(call.get("completion_tokens") or 0))
        if call.get("cost_usd") is not None:
            found.model_cost.labels(model).inc(float(call["cost_usd"]))


def observe_audit(event: str, workflow: str | None, detail: dict[str, Any]) -> None:
    found = metrics()
    if event in _HANDOFF_EVENTS:
        found.handoffs.labels(_HANDOFF_EVENTS[event]).inc()
    elif event in _APPROVAL_EVENTS:
        state = _APPROVAL_EVENTS[event]
        found.approvals.labels(state).inc()
        waited = detail.get("waited_seconds")
        if isinstance(waited, int | float):
            found.approval_turnaround.labels(state).observe(float(waited))
    elif event in ("executed", "execution_failed"):
        result = "executed" if event == "executed" else "failed"
        found.executions.labels(str(detail.get("executor") or "none"), result).inc()
    elif event == "rolled_back":
        found.rollbacks.labels(workflow or "none").inc()


def observe_retrieval(mode: SearchMode, seconds: float) -> None:
    metrics().retrieval_seconds.labels(mode.value).observe(seconds)
