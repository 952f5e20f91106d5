"""Autonomy: each workflow's stage and readiness over the last two weeks; leads promote, demote and pull the kill
switch here (escalation checks that they are leads and audits every change)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.web.access import STAFF_ROLES, ConsoleRole, Person
from bot.web.console.queue import actor, flash, take_flash
from bot.web.console.views.autonomy import autonomy_view, move, set_kill_switch
from bot.web.context import console
from bot.web.pages import PageSet
from escalation.errors import EscalationError
from escalation.models import Stage

pages = PageSet()
LEADS = frozenset({ConsoleRole.LEAD})
AUTONOMY = "/console/autonomy"


@pages.page(AUTONOMY, template="console/autonomy.html", title="Autonomy", roles=STAFF_ROLES, nav=60)
async def autonomy(request: web.Request, person: Person) -> dict[str, Any]:
    view = await autonomy_view(console(request).services)
    return {"view": view, "is_lead": person.role is ConsoleRole.LEAD, "flash": await take_flash(request)}


@pages.action("/console/autonomy/stage", roles=LEADS)
async def stage(request: web.Request, person: Person) -> web.StreamResponse:
    form = await request.post()
    try:
        target = Stage(str(form.get("stage", "")))
    except ValueError:
        raise web.HTTPBadRequest(text="stage must be shadow, approve or auto") from None
    try:
        change = await move(
            console(request).services, actor(request, person), workflow=str(form.get("workflow", "")), stage=target
        )
    except EscalationError as exc:
        await flash(request, str(exc), ok=False)
    else:
        await flash(request, change.message, ok=change.changed)
    raise web.HTTPSeeOther(AUTONOMY)


@pages.action("/console/autonomy/kill-switch", roles=LEADS)
async def kill_switch(request: web.Request, person: Person) -> web.StreamResponse:
    form = await request.post()
    enabled = form.get("enabled") == "on"
    try:
        await set_kill_switch(console(request).services, actor(request, person), enabled=enabled)
    except EscalationError as exc:
        await flash(request, str(exc), ok=False)
    else:
        state = "on: every action waits for a person" if enabled else "off"
        await flash(request, f"Kill switch {state}.", ok=True)
    raise web.HTTPSeeOther(AUTONOMY)
