"""The console's front door: the pages the signed-in person may open."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.web.access import EVERYONE, Person
from bot.web.pages import PageSet

pages = PageSet()


@pages.page("/", template="home.html", title="Supportbot console", roles=EVERYONE)
async def home(request: web.Request, person: Person) -> dict[str, Any]:
    return {}
