"""The audit trail: append-only, filterable, newest first, and as CSV."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.web.access import STAFF_ROLES, Person
from bot.web.console.forms import FilterError, day, page_number, pager, text
from bot.web.console.views.audit import audit_csv, audit_page
from bot.web.context import console
from bot.web.pages import PageSet
from escalation.audit_format import describe
from escalation.audit_query import AuditFilter

pages = PageSet()
PAGE_SIZE = 100


def audit_filter(query: Mapping[str, str]) -> AuditFilter:
    return AuditFilter(
        since=day(query, "since"),
        until=day(query, "until", end=True),
        event=text(query, "event", limit=60),
        actor=text(query, "actor", limit=200),
        workflow=text(query, "workflow", limit=100),
        org=text(query, "org", limit=100),
        decision_id=text(query, "decision", limit=60),
        subject=text(query, "subject", limit=60),
        limit=PAGE_SIZE,
        offset=(page_number(query) - 1) * PAGE_SIZE,
    )


@pages.page("/console/audit", template="console/audit.html", title="Audit trail", roles=STAFF_ROLES, nav=70)
async def audit(request: web.Request, person: Person) -> dict[str, Any]:
    query = request.rel_url.query
    try:
        chosen, error = audit_filter(query), None
    except FilterError as exc:
        chosen, error = AuditFilter(limit=PAGE_SIZE), str(exc)
    found = await audit_page(console(request).services, chosen)
    return {
        "found": found,
        "rows": [(event, describe(event)) for event in found.events],
        "query": query,
        "error": error,
        "csv": "/console/audit.csv" + ("?" + request.rel_url.query_string if request.rel_url.query_string else ""),
        "pager": pager(query, page=chosen.offset // PAGE_SIZE + 1, total=found.total, size=PAGE_SIZE),
    }


@pages.action("/console/audit.csv", roles=STAFF_ROLES, method="GET")
async def audit_export(request: web.Request, person: Person) -> web.StreamResponse:
    try:
        chosen = audit_filter(request.rel_url.query)
    except FilterError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    body = await audit_csv(console(request).services, chosen)
    name = f"supportbot-audit-{datetime.now(UTC):%Y%m%d-%H%M}.csv"
    return web.Response(
        text=body, content_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
