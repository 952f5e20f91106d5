"""How a console page is declared: a `PageSet` per module, whose routes are guarded (sign-in, roles, CSRF)
and whose pages add themselves to the navigation of the people allowed to open them.

    pages = PageSet()

    @pages.page("/console/overview", template="console/overview.html", title="Overview", roles=STAFF_ROLES, nav=10)
    async def overview(request: web.Request, person: Person) -> dict[str, Any]:
        services = console(request).services
        return {"weeks": ...}  # rendered into console/templates/console/overview.html, extending base.html

    @pages.action("/console/autonomy/promote", roles=frozenset({ConsoleRole.LEAD}))
    async def promote(request: web.Request, person: Person) -> web.StreamResponse:
        form = await request.post()  # the CSRF token was checked before this runs
        ...
        raise web.HTTPSeeOther("/console/autonomy")

Then add the module's `pages` to `CONSOLE_PAGES` in `bot/web/console/pages.py` (a console page), or to
`PAGE_SETS` in `bot/web/app.py` (the web's own: sign-in, home, playground).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web.access import ConsoleRole, Person
from bot.web.security import csrf_token, guard, person_of

View = Callable[[web.Request, Person], Awaitable[dict[str, Any]]]
Action = Callable[[web.Request, Person], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class NavLink:
    path: str
    title: str
    roles: frozenset[ConsoleRole]
    order: int


@dataclass
class PageSet:
    """One module's console routes and navigation links."""

    routes: list[web.RouteDef] = field(default_factory=list)
    links: list[NavLink] = field(default_factory=list)

    def page(
        self, path: str, *, template: str, title: str, roles: frozenset[ConsoleRole], nav: int | None = None
    ) -> Callable[[View], View]:
        """A GET page: `view` returns the template's context; `nav` (an order) puts it in the navigation."""

        def register(view: View) -> View:
            @guard(roles)
            async def handler(request: web.Request) -> web.StreamResponse:
                person = person_of(request)
                context = await view(request, person)
                return await render(request, template, {"title": title, **context})

            self.routes.append(web.get(path, handler, name=view.__name__))
            if nav is not None:
                self.links.append(NavLink(path, title, roles, nav))
            return view

        return register

    def action(self, path: str, *, roles: frozenset[ConsoleRole], method: str = "POST") -> Callable[[Action], Action]:
        """Any other route (a form's POST, a JSON or event stream): guarded and CSRF-checked like a page."""

        def register(act: Action) -> Action:
            @guard(roles)
            async def handler(request: web.Request) -> web.StreamResponse:
                return await act(request, person_of(request))

            self.routes.append(web.route(method, path, handler, name=act.__name__))
            return act

        return register


NAV: web.AppKey[list[NavLink]] = web.AppKey("console-nav", list)


async def render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    """A template with what base.html needs: the person, their navigation and the CSRF token for forms."""
    from bot.web.security import PERSON

    person = request.get(PERSON)
    links = [link for link in request.app[NAV] if person is not None and person.role in link.roles]
    base = {"person": person, "nav": links, "csrf_token": await csrf_token(request), "path": request.path}
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)
