"""One readable line per audit event, and the audit trail as rows: for `supportbot audit`, the web console and a
decision's explanation."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from escalation.audit import AuditEvent
from escalation.formatting import describe_params, value


def describe(event: AuditEvent) -> str:  # noqa: PLR0912 - one case per event kind
    detail, before, after = event.detail or {}, event.before or {}, event.after or {}
    match event.event:
        case "policy_outcome":
            return (
                f"proposed {detail.get('action')} ({describe_params(detail.get('params'))}) → {detail.get('kind')} "
                f"by rule {detail.get('rule')}: {detail.get('reason')}"
            )
        case "approval_requested" | "auto_approved" | "shadow_decision":
            return f"{event.event.replace('_', ' ')} ({detail.get('rule')}): {describe_params(after.get('params'))}"
        case "approved_with_changes":
            old, new = before.get("params") or {}, after.get("params") or {}
            changed = {key: (old.get(key), new.get(key)) for key in {*old, *new} if old.get(key) != new.get(key)}
            edits = "; ".join(f"{key} {value(key, a)} → {value(key, b)}" for key, (a, b) in sorted(changed.items()))
            return f"approved with changes: {edits}" + (f" ({detail['note']})" if detail.get("note") else "")
        case "approved":
            return f"approved: {describe_params(after.get('params'))}"
        case "denied":
            return f"denied: {detail.get('reason')}"
        case "executed":
            replay = " (replayed, nothing ran twice)" if after.get("replayed") else ""
            return f"executed after {detail.get('attempts')} attempt(s): {after.get('summary')}{replay}"
        case "execution_failed":
            return f"failed: {detail.get('error')}"
        case "rollback_requested":
            action = f"{detail.get('action')} ({describe_params(detail.get('params'))})"
            return f"undo requested for {detail.get('undoes')}: {action}"
        case "rolled_back":
            return f"rolled back by {after.get('undo')}"
        case "decision_refused":
            return f"refused to let them {detail.get('attempted')}: {detail.get('reason')}"
        case "autonomy_changed":
            return f"autonomy {before.get('stage')} → {after.get('stage')}" + (
                f": {detail['reason']}" if detail.get("reason") else ""
            )
        case "kill_switch":
            return f"kill switch {'ON' if after.get('enabled') else 'off'}"
        case "handoff_created":
            return f"handed to a human ({detail.get('assigned_to') or 'unassigned'}): {detail.get('reason')}"
        case "handoff_escalated":
            return f"escalated to level {after.get('level')} ({after.get('assigned_to')})"
        case "doctor_drill":
            return f"drill in a sandbox, {detail.get('status')}: {detail.get('detail')}"
        case _:
            return json.dumps({k: v for k, v in {"before": before, "after": after, "detail": detail}.items() if v})


def as_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "event": event.event,
        "actor": event.actor,
        "actor_role": event.actor_role,
        "workflow": event.workflow,
        "org": event.org,
        "subject": f"{event.subject_type}:{event.subject_id}" if event.subject_type else None,
        "decision_id": event.decision_id,
        "summary": describe(event),
        "before": event.before,
        "after": event.after,
        "detail": event.detail,
    }


def as_csv(events: list[AuditEvent]) -> str:
    buffer = io.StringIO()
    columns = ["id", "at", "event", "actor", "actor_role", "workflow", "org", "subject", "decision_id", "summary"]
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for event in events:
        writer.writerow(as_dict(event))
    return buffer.getvalue()
