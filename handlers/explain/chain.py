"""A decision explained: the chain from a message to its final action, readable by a person.

Plain text, the same in `supportbot explain`, Slack's `/support explain` and the web console's decision page."""

from __future__ import annotations

from escalation.audit import AuditEvent
from escalation.audit_format import describe
from escalation.formatting import describe_params
from escalation.models import Approval
from escalation.service import Escalation
from handlers.decisions import DecisionRecord, DecisionStore
from handlers.explain.model_calls import model_steps
from handlers.explain.route import input_lines, route_lines, tool_call_lines

_KIND_NAMES = {"email": "e-mail addresses", "phone": "phone numbers", "card": "card numbers", "secret": "secrets"}


def _searched_how(record: DecisionRecord) -> str:
    """A follow-up is searched with the earlier question of its thread: say so, so the passages make sense."""
    as_written = " ".join(record.inbound.split()).startswith(record.search_query or "")
    return "" if as_written else " (the message read with the earlier question of its thread)"


class DecisionExplainer:
    """Reads a stored decision, its approval and the approval's audit trail, and explains them."""

    def __init__(self, decisions: DecisionStore, escalation: Escalation) -> None:
        self._decisions = decisions
        self._escalation = escalation

    async def explain(self, decision_id: str) -> str:
        record = await self._decisions.get(decision_id)
        if record is None:
            raise ValueError(f"There is no decision {decision_id}.")
        approval = await self._escalation.approval(record.approval_id) if record.approval_id else None
        events = await self._escalation.audit.events(subject=("approval", approval.id)) if approval else []
        return explain(record, approval, events)


def explain(record: DecisionRecord, approval: Approval | None, events: list[AuditEvent]) -> str:
    when = f"{record.created_at:%Y-%m-%d %H:%M:%S} UTC" if record.created_at else "unsaved"
    lines = [
        f"Decision {record.id} — {when}, {record.platform} conversation {record.conversation_key}"
        + (f" (org {record.org})" if record.org else " (no org: public knowledge only)")
        + (f", handled in {record.latency_ms:.0f} ms" if record.latency_ms is not None else ""),
        f"Trace: {record.trace_id}" if record.trace_id else "Trace: none recorded",
        "",
        f"1. Message from {record.author}: {record.inbound[:500]!r}",
    ]
    step = 2
    if record.route is not None or record.route_ranked:
        heading, *votes = route_lines(record)
        lines += [f"{step}. {heading}", *votes]
        step += 1
    if record.retrieved:
        lines.append(
            f"{step}. Retrieved {len(record.retrieved)} passages (answer confidence {record.confidence or 0:.2f}):"
        )
        if record.search_query:
            lines.append(f"   Searched for: {record.search_query[:300]!r}" + _searched_how(record))
        for number, passage in enumerate(record.retrieved, start=1):
            where = " › ".join([passage["title"], *passage.get("heading_path", [])])
            stale = " [STALE]" if passage.get("freshness") == "stale" else ""
            scores = passage.get("scores", {})
            lines.append(
                f"   [{number}] {where}{stale} — score {passage['score']:.3f} "
                f"(dense {scores.get('dense', 0):.3f}, lexical {scores.get('lexical', 0):.3f})"
            )
        step += 1
    for heading, *details in model_steps(record):
        lines += [f"{step}. {heading}", *details]
        step += 1
    for line in [*tool_call_lines(record), *input_lines(record)]:
        lines.append(f"{step}. {line}")
        step += 1
    if record.policy_outcome:
        lines.append(f"{step}. Policy: {record.policy_outcome} by rule {record.policy_rule} — {record.policy_reason}")
        step += 1
    if approval is not None:
        decided = f"{approval.state.value}" + (f" by {approval.decided_by}" if approval.decided_by else "")
        edited = f" with changes ({describe_params(approval.params)})" if approval.edited else ""
        result = f": {approval.result.get('summary')}" if approval.result else ""
        error = f": {approval.last_error}" if approval.last_error else ""
        lines.append(f"{step}. Approval {approval.id}: {decided}{edited}{result}{error}")
        step += 1
    if record.handoff_id:
        lines.append(f"{step}. Handed to a human: {record.handoff_id}")
        step += 1
    lines.append(f"{step}. Outcome: {record.outcome}" + (f" — replied: {record.reply[:400]!r}" if record.reply else ""))
    if record.redacted_for_model:
        kinds = ", ".join(_KIND_NAMES.get(kind, kind) for kind in record.redacted_for_model)
        lines.append(f"Personal data not sent to the model (LLM_REDACT_PII): {kinds}")
    if record.notes:
        lines += ["", "Notes:", *(f"  - {note}" for note in record.notes)]
    if events:
        lines += ["", "Audit trail:"]
        lines += [
            f"  {e.at:%Y-%m-%d %H:%M:%S} {e.event} by {e.actor}: {describe(e)}"
            + (f" [trace {e.trace_id}]" if e.trace_id and e.trace_id != record.trace_id else "")
            for e in events
        ]
    return "\n".join(lines)
