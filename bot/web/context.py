"""What console pages reach through the request: the opened services and the web platform's parts."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.services import Services
from bot.web.access import Access
from handlers.core import Core


@dataclass
class Console:
    services: Services
    access: Access
    core: Core | None  # clicks in the playground go to the core as Slack's do; None: no playground


CONSOLE: web.AppKey[Console] = web.AppKey("console", Console)


def console(request: web.Request) -> Console:
    return request.app[CONSOLE]
