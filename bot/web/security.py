"""Sessions, sign-in and CSRF for the console: encrypted session cookies (aiohttp-session with Fernet), a
CSRF token per session checked on every request that changes something, and each console route's roles.

Only routes marked by `guard` are the console's: Slack (`/slack/events`, signed), Teams (`/api/messages`,
JWT) and `/healthz` pass through untouched.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import Session, get_session, new_session
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

from bot.web.access import Access, ConsoleRole, Person

log = logging.getLogger(__name__)

ACCESS: web.AppKey[Access] = web.AppKey("console-access", Access)
PERSON: web.RequestKey[Person] = web.RequestKey("console-person", Person)
COOKIE = "supportbot_console"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_GUARD = "__console_guard__"
_H = TypeVar("_H", bound=Callable[..., Awaitable[web.StreamResponse]])


@dataclass(frozen=True)
class Guard:
    roles: frozenset[ConsoleRole] | None  # None: no sign-in needed (the sign-in page itself)


def guard(roles: frozenset[ConsoleRole] | None) -> Callable[[_H], _H]:
    """Mark a handler as a console route: signed-in people of `roles` only (None: anyone), CSRF-checked."""

    def mark(handler: _H) -> _H:
        setattr(handler, _GUARD, Guard(roles))
        return handler

    return mark


def setup_security(app: web.Application, access: Access, *, session_key: str | None) -> None:
    # aiohttp-session 2.12 keeps its storage under a string request key: a warning per process, not a problem
    warnings.filterwarnings("ignore", category=web.NotAppKeyWarning, module="aiohttp_session")
    app[ACCESS] = access
    key = session_key.encode() if session_key else Fernet.generate_key()
    storage = EncryptedCookieStorage(
        Fernet(key), cookie_name=COOKIE, max_age=SESSION_SECONDS, httponly=True, samesite="Strict"
    )
    setup_sessions(app, storage)
    app.middlewares.append(console_guard)


@web.middleware
async def console_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    rule = getattr(request.match_info.handler, _GUARD, None)
    if not isinstance(rule, Guard):
        return await handler(request)  # not a console route
    session = await get_session(request)
    if request.method not in SAFE_METHODS and not await _csrf_ok(request, session):
        log.warning("console: %s %s refused: missing or wrong CSRF token", request.method, request.path)
        raise web.HTTPForbidden(text="This form has expired or did not come from this console. Reload and try again.")
    if rule.roles is None:
        return _hardened(await handler(request))
    person = signed_in(request, session)
    if person is None:
        if request.method == "GET" and "text/event-stream" not in request.headers.get("Accept", ""):
            raise web.HTTPSeeOther(f"/signin?next={quote(request.path_qs, safe='')}")
        raise web.HTTPUnauthorized(text="Sign in first.")
    if person.role not in rule.roles:
        log.warning("console: %s (%s) may not open %s", person.id, person.role.value, request.path)
        raise web.HTTPForbidden(text="You do not have access to this page.")
    request[PERSON] = person
    return _hardened(await handler(request))


# Console pages run only their own script and style (no inline code), are never framed by another site and
# do not tell other sites where a link was followed from.
HARDENING = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _hardened(response: web.StreamResponse) -> web.StreamResponse:
    if not response.prepared:  # an event stream has sent its headers already
        response.headers.update(HARDENING)
    return response


def signed_in(request: web.Request, session: Session) -> Person | None:
    person_id = session.get("person")
    return request.app[ACCESS].person(str(person_id)) if person_id else None


def person_of(request: web.Request) -> Person:
    """The signed-in person of a guarded route."""
    return request[PERSON]


async def csrf_token(request: web.Request) -> str:
    """This session's CSRF token (one is made for a session that has none, e.g. before signing in)."""
    session = await get_session(request)
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = session[CSRF_FIELD] = secrets.token_urlsafe(24)
    return token


async def _csrf_ok(request: web.Request, session: Session) -> bool:
    expected = session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # cached: the handler reads the same form
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return isinstance(expected, str) and sent is not None and hmac.compare_digest(expected.encode(), sent.encode())


async def start_session(request: web.Request, person: Person) -> None:
    """A new session for a signed-in person (a new cookie and CSRF token: nothing from before sign-in is kept)."""
    session = await new_session(request)
    session["person"] = person.id
    session[CSRF_FIELD] = secrets.token_urlsafe(24)


async def end_session(request: web.Request) -> None:
    session = await get_session(request)
    session.invalidate()


async def session_value(request: web.Request, name: str, default: Any = None) -> Any:
    return (await get_session(request)).get(name, default)


async def set_session_value(request: web.Request, name: str, value: Any) -> None:
    (await get_session(request))[name] = value
