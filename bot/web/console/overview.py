"""Overview: this week's KPIs per workflow beside last week's, the weekly digest's chart, and the exceptions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.web.access import STAFF_ROLES, Person
from bot.web.console.views.overview import this_week
from bot.web.context import console
from bot.web.pages import PageSet
from scheduler.digest.chart import render_chart
from scheduler.digest.format import kpi_lines
from scheduler.digest.model import EXCEPTION_TITLES

pages = PageSet()
# the columns of the per-workflow table: labels of `kpi_lines`, the digest's own wording
WORKFLOW_COLUMNS = (
    "Conversations",
    "Resolved without a human",
    "Escalation rate",
    "First-pass quality",
    "Approved / with changes / denied / expired",
    "Failed actions / rollbacks",
)


@pages.page("/console/overview", template="console/overview.html", title="Overview", roles=STAFF_ROLES, nav=20)
async def overview(request: web.Request, person: Person) -> dict[str, Any]:
    services = console(request).services
    digest = await this_week(services, now=datetime.now(UTC))
    per_ticket = services.settings.minutes_per_ticket
    rows = []
    for breakdown in digest.by_workflow:
        lines = {
            line.label: line for line in kpi_lines(breakdown.kpis, breakdown.previous, minutes_per_ticket=per_ticket)
        }
        rows.append((breakdown.name, [lines[label] for label in WORKFLOW_COLUMNS]))
    return {
        "digest": digest,
        "overall": kpi_lines(digest.kpis, digest.previous, minutes_per_ticket=per_ticket),
        "columns": WORKFLOW_COLUMNS,
        "workflows": rows,
        "exception_titles": EXCEPTION_TITLES,
    }


@pages.action("/console/overview/chart.png", roles=STAFF_ROLES, method="GET")
async def chart(request: web.Request, person: Person) -> web.StreamResponse:
    """The digest's 8-week chart, up to this week."""
    digest = await this_week(console(request).services, now=datetime.now(UTC))
    png = await asyncio.to_thread(render_chart, digest)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})
