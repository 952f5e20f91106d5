"""The playground (`/playground`): a customer's shared channel and the staff channel side by side, driven by
the real core. Messages go through the durable turn queue like Slack's and Teams'; clicks go to the core
like Slack's button clicks, so the same authorization applies (a customer's Approve is refused and audited).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.presentation import words
from bot.presentation.approval import parse_amount
from bot.queue.intake import Intake
from bot.web.access import EVERYONE, ConsoleRole, Person, actor_for
from bot.web.context import console
from bot.web.directory import playable_customers
from bot.web.feed import PostFeed
from bot.web.front import WebFront, parse_key
from bot.web.pages import PageSet
from bot.web.post_views import PostViews
from bot.web.posts import STAFF
from bot.web.seat import Seat, new_thread, seat_of
from bot.web.security import csrf_token
from escalation.errors import EscalationError
from escalation.models import Actor
from handlers.click_trace import decision_click
from handlers.decisions import DecisionStore
from handlers.models import ActionKind, InboundAction, Platform, StaffNote
from handlers.text import clean_text

log = logging.getLogger(__name__)
pages = PageSet()
MESSAGE_MAX = 4000


@dataclass
class Playground:
    front: WebFront
    intake: Intake
    renderer: PostViews
    feed: PostFeed


PLAYGROUND: web.AppKey[Playground] = web.AppKey("playground", Playground)


def _actor(request: web.Request, person: Person, seat: Seat) -> Actor:
    settings = console(request).services.settings
    policy = console(request).services.escalation.policy
    return actor_for(person, seat.role, customer=seat.customer, policy=policy, lead_group=settings.lead_group)


def channels_for(person: Person, seat: Seat) -> list[str]:
    """A customer's identity reaches their own conversation, never the staff channel."""
    return [seat.key, STAFF] if person.is_staff else [seat.key]


@pages.page("/playground", template="playground.html", title="Playground", roles=EVERYONE, nav=1)
async def playground(request: web.Request, person: Person) -> dict[str, Any]:
    seat = await seat_of(request, person)
    ground = request.app[PLAYGROUND]
    csrf = await csrf_token(request)
    shown: dict[str, list[str]] = {"customer": [], "staff": []}
    seen: set[str] = set()
    last = 0
    for post in await ground.front.posts.recent(channels_for(person, seat)):
        last = post.id
        if post.subject:
            if post.subject in seen:
                continue  # a card is shown once, as it is now
            seen.add(post.subject)
        rendered = await ground.renderer.render(post, csrf=csrf, staff=person.is_staff)
        shown[rendered.pane].append(rendered.html)
    services = console(request).services
    # a customer plays only themselves: they are not shown who else could be played
    customers = (
        [] if not person.is_staff else await playable_customers(services.pool, demo=services.settings.demo_backend)
    )
    return {
        "seat": seat,
        "actor": _actor(request, person, seat),
        "staff": person.is_staff,
        "orgs": sorted({c.org or "" for c in customers}),
        "customers": [c for c in customers if (c.org or None) == seat.org],
        "roles": [role for role in ConsoleRole if person.may_act_as(role)],
        "posts": shown,
        "stream": f"/playground/events?{seat.query()}&after={last}",
        "nonce": secrets.token_urlsafe(12),
    }


@pages.action("/playground/say", roles=EVERYONE)
async def say(request: web.Request, person: Person) -> web.StreamResponse:
    form = await request.post()
    seat = await seat_of(request, person, form)
    text = clean_text(str(form.get("text") or "")).strip()
    if not text or len(text) > MESSAGE_MAX:
        return _answer(request, f"Write a message of 1 to {MESSAGE_MAX} characters.", status=400)
    nonce = str(form.get("nonce") or "") or secrets.token_urlsafe(12)
    ground = request.app[PLAYGROUND]
    actor = _actor(request, person, seat)
    stored = await ground.front.say(ground.intake, key=seat.key, org=seat.org, actor=actor, text=text, nonce=nonce)
    if not stored:
        log.info("playground: a message form of %s was sent twice; stored once", person.id)
    return _answer(request, "", nonce=secrets.token_urlsafe(12))


@pages.action("/playground/new", roles=EVERYONE)
async def new_conversation(request: web.Request, person: Person) -> web.StreamResponse:
    seat = await new_thread(request, person, await request.post())
    raise web.HTTPSeeOther(f"/playground?{seat.query()}")


@pages.action("/playground/act", roles=EVERYONE)
async def act(request: web.Request, person: Person) -> web.StreamResponse:
    """A click on a button of an answer or a card. The core decides, exactly as for a Slack click."""
    form = await request.post()
    seat = await seat_of(request, person, form)
    actor = _actor(request, person, seat)
    kind, target = str(form.get("kind") or ""), str(form.get("target") or "")
    ground = request.app[PLAYGROUND]
    escalation = console(request).services.escalation
    try:
        if kind == "close":
            await escalation.handoffs.close(target, actor)
            await ground.front.refresh(target, "handoff")
            return _answer(request, "Closed.")
        try:
            action = ActionKind(kind)
        except ValueError:
            return _answer(request, f"Unknown action {kind!r}.", status=400)
        value = _value(action, form)
        if isinstance(value, str):
            return _answer(request, value, status=400)
        key = await _conversation_of(request, target, str(form.get("conversation") or ""), seat)
        # a customer's Approve or Deny goes to the core whatever it names: refused there, and audited
        if action not in (ActionKind.APPROVE, ActionKind.DENY) and not await _may_touch(request, person, key, target):
            log.warning("playground: %s clicked %s on %s outside their conversations", person.id, kind, target)
            return _answer(request, "That is not one of your conversations.", status=403)
        # an approval decided here joins the trace of the turn that asked for it, as from Slack or Teams
        async with decision_click(DecisionStore(console(request).services.pool), target, verb=action.value):
            said = await _click(request, action, target, actor=actor, key=key, value=value)
        return _answer(request, said)
    except EscalationError as exc:
        return _answer(request, str(exc))
    except Exception:
        log.exception("playground: %s on %s failed", kind, target)
        return _answer(request, words.CLICK_FAILED, status=500)


async def _click(
    request: web.Request, action: ActionKind, target: str, *, actor: Actor, key: str, value: dict[str, Any]
) -> str:
    core = console(request).core
    if core is None:
        return "This server has no conversation core; the playground cannot act."
    ground = request.app[PLAYGROUND]
    escalation = console(request).services.escalation
    before = await escalation.handoffs.get(target) if target.startswith("hnd_") else None
    parsed = parse_key(key)
    org = parsed[0] if parsed else None
    items = await core.handle(InboundAction(Platform.WEB, org, key, actor, action, target, value))
    for item in items:
        if not isinstance(item, StaffNote):
            await ground.front.deliver(item)
    if target.startswith("apr_") and any(isinstance(i, StaffNote) and i.changed == target for i in items):
        await ground.front.refresh(target, "approval")
    if before is not None:
        after = await escalation.handoffs.get(target)
        if (after.state, after.claimed_by) != (before.state, before.claimed_by):
            await ground.front.refresh(target, "handoff")
    notes = [item.text for item in items if isinstance(item, StaffNote)]
    return " ".join(notes) or words.DONE


def _value(action: ActionKind, form: Any) -> dict[str, Any] | str:
    """The click's inputs, or what is wrong with them."""
    if action is ActionKind.APPROVE and str(form.get("amount") or "").strip():
        amount = parse_amount(str(form["amount"]))
        if amount is None:
            return words.AMOUNT_EXAMPLE
        return {"amount_cents": amount, "note": str(form.get("note") or "").strip() or None}
    if action is ActionKind.DENY:
        reason = str(form.get("reason") or "").strip()
        return {"reason": reason} if reason else words.DENY_REASON_MISSING
    if action is ActionKind.NOT_HELPFUL:
        return {"comment": str(form.get("comment") or "").strip() or None}
    return {}


async def _conversation_of(request: web.Request, target: str, given: str, seat: Seat) -> str:
    """Buttons on staff cards act on the customer's conversation; answers' buttons on their own."""
    escalation = console(request).services.escalation
    if target.startswith("apr_"):
        approval = await escalation.approval(target)
        if approval and approval.conversation_key:
            return approval.conversation_key
    if target.startswith("hnd_"):
        return (await escalation.handoffs.get(target)).conversation_key
    return given or seat.key


async def _may_touch(request: web.Request, person: Person, key: str, target: str) -> bool:
    """A customer acts only in their own conversations, on answers given there (a form is easy to forge)."""
    if person.role is not ConsoleRole.CUSTOMER:
        return True
    parsed = parse_key(key)
    if parsed is None or parsed[:2] != (person.org, person.id):
        return False
    if target.startswith("dec_"):
        record = await request.app[PLAYGROUND].renderer.decisions.get(target)
        return record is not None and record.conversation_key == key
    return True


def _answer(request: web.Request, message: str, *, status: int = 200, nonce: str | None = None) -> web.StreamResponse:
    """The page's scripts read JSON; a form sent without them comes back to the playground."""
    if "application/json" in request.headers.get("Accept", ""):
        return web.json_response({"message": message, "nonce": nonce}, status=status)
    if status >= 400:
        raise web.HTTPBadRequest(text=message) if status == 400 else web.HTTPForbidden(text=message)
    raise web.HTTPSeeOther("/playground")
