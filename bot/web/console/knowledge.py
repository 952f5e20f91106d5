"""Knowledge: documents with owner, review date and freshness; gaps grouped with counts and examples; negative
feedback with comments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.web.access import STAFF_ROLES, Person
from bot.web.console.views.knowledge import knowledge_view
from bot.web.context import console
from bot.web.pages import PageSet

pages = PageSet()


@pages.page("/console/knowledge", template="console/knowledge.html", title="Knowledge", roles=STAFF_ROLES, nav=50)
async def knowledge(request: web.Request, person: Person) -> dict[str, Any]:
    now = datetime.now(UTC)
    view = await knowledge_view(console(request).services, now=now)
    today = now.date()
    documents = sorted(view.documents, key=lambda d: (d.review_by, d.doc_key))  # the most overdue first
    return {"view": view, "documents": [(d, d.freshness(today).value) for d in documents], "today": today}
