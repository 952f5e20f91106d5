"""The audit trail, filtered, a page at a time, and as CSV (the same columns as `supportbot audit --format csv`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.services import Services
from escalation.audit import AuditEvent
from escalation.audit_format import as_csv
from escalation.audit_query import AuditFilter, AuditQuery

CSV_LIMIT = 100_000


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    total: int
    kinds: list[str]
    chosen: AuditFilter


async def audit_page(services: Services, chosen: AuditFilter) -> AuditPage:
    query = AuditQuery(services.pool)
    events, total = await query.search(chosen)
    return AuditPage(events, total, await query.events(), chosen)


async def audit_csv(services: Services, chosen: AuditFilter) -> str:
    """Every matching row (up to CSV_LIMIT), oldest first, whatever page the screen shows."""
    events, _ = await AuditQuery(services.pool).search(replace(chosen, limit=CSV_LIMIT, offset=0))
    return as_csv(events[::-1])
