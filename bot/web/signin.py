"""Signing in with a token, and out."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.web.access import EVERYONE, Person
from bot.web.pages import PageSet, render
from bot.web.security import ACCESS, end_session, guard, start_session
from bot.web.throttle import SignInThrottle

log = logging.getLogger(__name__)
pages = PageSet()
THROTTLE: web.AppKey[SignInThrottle] = web.AppKey("console-signin-throttle", SignInThrottle)


def _next(value: object) -> str:
    """Only a path on this site: `next=https://elsewhere` must not turn sign-in into a redirector."""
    text = value if isinstance(value, str) else ""
    return text if text.startswith("/") and not text.startswith("//") else "/"


@guard(None)
async def signin_form(request: web.Request) -> web.StreamResponse:
    return await render(request, "signin.html", {"title": "Sign in", "next": _next(request.query.get("next"))})


@guard(None)
async def signin(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    token = form.get("token")
    target = _next(form.get("next"))
    throttle = request.app[THROTTLE]
    if await throttle.blocked(request.remote):
        log.warning("console: sign-in from %s refused: too many wrong tokens", request.remote)
        minutes = throttle.window // 60
        context = {
            "title": "Sign in",
            "next": target,
            "error": f"Too many wrong tokens; try again in {minutes} minutes.",
        }
        return await render(request, "signin.html", context, status=429)
    person = request.app[ACCESS].person_for(token.strip()) if isinstance(token, str) and token.strip() else None
    if person is None:
        log.warning("console: a sign-in with a wrong token from %s", request.remote)
        await throttle.failed(request.remote)
        context = {"title": "Sign in", "next": target, "error": "That token is not valid."}
        return await render(request, "signin.html", context, status=401)
    await start_session(request, person)
    log.info("console: %s signed in as %s", person.id, person.role.value)
    raise web.HTTPSeeOther(target)


@pages.action("/signout", roles=EVERYONE)
async def signout(request: web.Request, person: Person) -> web.StreamResponse:
    await end_session(request)
    log.info("console: %s signed out", person.id)
    raise web.HTTPSeeOther("/signin")


pages.routes += [web.get("/signin", signin_form, name="signin_form"), web.post("/signin", signin, name="signin")]
