"""Conversations and decisions: the search, and one decision's `supportbot explain` chain with its audit rows."""

from __future__ import annotations

from dataclasses import dataclass

from bot.demo.script import KEY_PREFIX as DEMO_PREFIX
from bot.services import Services
from escalation.audit import AuditEvent
from escalation.audit_query import AuditFilter, AuditQuery
from escalation.models import Approval
from handlers.decision_search import DecisionFacets, DecisionFilter, DecisionSearch, DecisionSummary
from handlers.decisions import DecisionRecord, DecisionStore
from handlers.explain.chain import explain


@dataclass(frozen=True)
class DecisionPage:
    items: list[DecisionSummary]
    total: int
    facets: DecisionFacets
    chosen: DecisionFilter


@dataclass(frozen=True)
class DecisionDetail:
    record: DecisionRecord
    approval: Approval | None
    explanation: str  # what `supportbot explain` prints
    events: list[AuditEvent]  # the audit rows of the decision and of its approval, oldest first

    @property
    def demo(self) -> bool:
        return self.record.conversation_key.startswith(DEMO_PREFIX)

    @property
    def trace_id(self) -> str | None:
        """The OpenTelemetry trace of the turn, when one was recorded."""
        value = getattr(self.record, "trace_id", None)
        return str(value) if value else None


async def find_decisions(services: Services, chosen: DecisionFilter) -> DecisionPage:
    search = DecisionSearch(services.pool)
    items, total = await search.find(chosen)
    return DecisionPage(items, total, await search.facets(), chosen)


async def decision_detail(services: Services, decision_id: str) -> DecisionDetail | None:
    record = await DecisionStore(services.pool).get(decision_id)
    if record is None:
        return None
    approval = await services.escalation.approval(record.approval_id) if record.approval_id else None
    events, _ = await AuditQuery(services.pool).search(AuditFilter(decision_id=decision_id, limit=500))
    events.reverse()
    subject_events = [e for e in events if approval is not None and e.subject_id == approval.id]
    return DecisionDetail(record, approval, explain(record, approval, subject_events), events)
