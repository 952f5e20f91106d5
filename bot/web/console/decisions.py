"""Conversations and decisions: search and filter; a decision's `supportbot explain` chain, its audit rows and
its trace id."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.web.access import STAFF_ROLES, Person
from bot.web.console.forms import FilterError, day, page_number, pager, text
from bot.web.console.views.decisions import decision_detail, find_decisions
from bot.web.context import console
from bot.web.pages import PageSet
from handlers.decision_search import NO_ORG, DecisionFilter

pages = PageSet()
PAGE_SIZE = 50


def decision_filter(query: Any) -> DecisionFilter:
    return DecisionFilter(
        org=text(query, "org", limit=100),
        workflow=text(query, "workflow", limit=100),
        outcome=text(query, "outcome", limit=40),
        since=day(query, "since"),
        until=day(query, "until", end=True),
        conversation=text(query, "conversation", limit=300),
        text=text(query, "q"),
        limit=PAGE_SIZE,
        offset=(page_number(query) - 1) * PAGE_SIZE,
    )


@pages.page("/console/decisions", template="console/decisions.html", title="Decisions", roles=STAFF_ROLES, nav=30)
async def decisions(request: web.Request, person: Person) -> dict[str, Any]:
    query = request.rel_url.query
    error: str | None = None
    try:
        chosen = decision_filter(query)
    except FilterError as exc:
        chosen, error = DecisionFilter(limit=PAGE_SIZE), str(exc)
    found = await find_decisions(console(request).services, chosen)
    return {
        "found": found,
        "query": query,
        "error": error,
        "no_org": NO_ORG,
        "pager": pager(query, page=chosen.offset // PAGE_SIZE + 1, total=found.total, size=PAGE_SIZE),
    }


@pages.page("/console/decisions/{decision_id}", template="console/decision.html", title="Decision", roles=STAFF_ROLES)
async def decision(request: web.Request, person: Person) -> dict[str, Any]:
    decision_id = request.match_info["decision_id"]
    detail = await decision_detail(console(request).services, decision_id)
    if detail is None:
        raise web.HTTPNotFound(text=f"There is no decision {decision_id}.")
    return {"detail": detail, "title": f"Decision {decision_id}"}
