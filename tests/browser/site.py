"""The server the browser tests drive: the real app with the console, a turn worker, and known people."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect
from procrastinate import App

from bot.core_factory import build_core
from bot.queue.runtime import mount_worker
from bot.server import build_app
from bot.services import Services
from bot.settings import Settings
from bot.storage import open_redis
from bot.web.access import Access, ConsoleRole, Person
from tests.conftest import empty_queue, own_queue

LEAD_TOKEN = "lead-token-0123456789"
APPROVER_TOKEN = "approver-token-0123456789"
STAFF_TOKEN = "staff-token-0123456789"
CUSTOMER_TOKEN = "customer-token-0123456789"
PEOPLE = {
    LEAD_TOKEN: Person("lena", ConsoleRole.LEAD),
    APPROVER_TOKEN: Person("maria", ConsoleRole.APPROVER),
    STAFF_TOKEN: Person("sam", ConsoleRole.STAFF),
    CUSTOMER_TOKEN: Person("cus_1011", ConsoleRole.CUSTOMER, org="globex"),
}


@dataclass
class Site:
    url: str
    services: Services
    pool: Any


@asynccontextmanager
async def serve_console(services: Services, settings: Settings, queue: App) -> AsyncIterator[Site]:
    await empty_queue(services)
    config, worker = own_queue(settings)
    services = dataclasses.replace(services, settings=config)
    core = await build_core(services)
    async with open_redis(config) as redis:
        app = build_app(services, redis, core=core, console=Access(PEOPLE))
        mount_worker(app, services, core, queue, config=worker)
        async with TestServer(app, host="127.0.0.1") as server:
            yield Site(str(server.make_url("")).rstrip("/"), services, services.pool)


async def sign_in(page: Page, token: str, *, path: str = "/") -> None:
    await page.goto(path)
    await page.get_by_label("Token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
