"""Approvals and hand-offs waiting for a person, with their age and expiry; decided from here through the
conversation core, as a Slack or Teams click is (the same authorization, audited, the customer told)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.web.access import STAFF_ROLES, Person, actor_for
from bot.web.console.views.queue import click, close_handoff, waiting
from bot.web.context import console
from bot.web.pages import PageSet
from bot.web.security import session_value, set_session_value
from escalation.errors import EscalationError
from escalation.models import Actor
from handlers.models import ActionKind
from scheduler.digest.format import duration

pages = PageSet()
FLASH = "console-flash"
QUEUE = "/console/queue"


def actor(request: web.Request, person: Person) -> Actor:
    """Whom escalation sees: the person at their own role, as for a Slack or Teams click."""
    services = console(request).services
    return actor_for(
        person, person.role, customer=None, policy=services.escalation.policy, lead_group=services.settings.lead_group
    )


async def flash(request: web.Request, message: str, *, ok: bool) -> None:
    await set_session_value(request, FLASH, {"text": message, "ok": ok})


async def take_flash(request: web.Request) -> dict[str, Any] | None:
    message = await session_value(request, FLASH)
    if message:
        await set_session_value(request, FLASH, None)
    return message if isinstance(message, dict) else None


@pages.page(QUEUE, template="console/queue.html", title="Approvals and hand-offs", roles=STAFF_ROLES, nav=40)
async def queue(request: web.Request, person: Person) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "queue": await waiting(console(request).services, now=now),
        "flash": await take_flash(request),
        "duration": duration,
    }


def _amount_cents(value: str) -> int | None:
    """ "35.00" or "$35" → 3500; empty → None (approve as proposed)."""
    cleaned = value.strip().lstrip("$").replace(",", "")
    if not cleaned:
        return None
    try:
        cents = round(float(cleaned) * 100)
    except ValueError:
        raise EscalationError(f"{value!r} is not an amount; write it like 35.00") from None
    return cents


@pages.action("/console/queue/decide", roles=STAFF_ROLES)
async def decide(request: web.Request, person: Person) -> web.StreamResponse:
    form = await request.post()
    target, verb = str(form.get("approval", "")), str(form.get("verb", ""))
    context = console(request)
    if context.core is None:
        await flash(request, "This server runs no conversation core, so nothing can be decided here.", ok=False)
        raise web.HTTPSeeOther(QUEUE)
    try:
        if verb == "approve":
            amount = _amount_cents(str(form.get("amount", "")))
            value: dict[str, Any] = {} if amount is None else {"amount_cents": amount}
            result = await click(
                context.services, context.core, actor(request, person), ActionKind.APPROVE, target, value=value
            )
        elif verb == "deny":
            reason = str(form.get("reason", "")).strip()
            result = await click(
                context.services,
                context.core,
                actor(request, person),
                ActionKind.DENY,
                target,
                value={"reason": reason},
            )
        else:
            raise web.HTTPBadRequest(text="approve or deny")
    except EscalationError as exc:
        await flash(request, str(exc), ok=False)
    else:
        await flash(request, result.message, ok=result.changed is not None)
    raise web.HTTPSeeOther(QUEUE)


@pages.action("/console/queue/handoff", roles=STAFF_ROLES)
async def handoff(request: web.Request, person: Person) -> web.StreamResponse:
    form = await request.post()
    target, verb = str(form.get("handoff", "")), str(form.get("verb", ""))
    context = console(request)
    who = actor(request, person)
    try:
        if verb == "close":
            closed = await close_handoff(context.services, who, target)
            message = f"Closed {closed.id}."
        elif verb in ("claim", "hand_back") and context.core is not None:
            kind = ActionKind.TAKE_OVER if verb == "claim" else ActionKind.HAND_BACK
            message = (await click(context.services, context.core, who, kind, target)).message
        else:
            raise web.HTTPBadRequest(text="claim, hand_back or close")
    except EscalationError as exc:
        await flash(request, str(exc), ok=False)
    else:
        await flash(request, message, ok=True)
    raise web.HTTPSeeOther(QUEUE)
