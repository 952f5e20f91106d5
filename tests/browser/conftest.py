"""Browser tests: Playwright (async API, on the tests' own event loop) driving Debian's chromium against the
real aiohttp app with the console mounted and a turn worker answering. One server and one browser per test
module; each test gets a fresh browser context (its own cookies). Screenshots go to the pytest temp dir.

In CI (CI=true) a missing chromium fails the tests; elsewhere they are skipped (`make browser` installs it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from procrastinate import App

from bot.services import Services
from bot.settings import Settings
from tests.browser.site import Site, serve_console

# a turn on a busy machine (the whole suite on 2 cores) can take seconds: assertions wait up to 20 s
expect.set_options(timeout=20_000)

# Debian's chromium runs as root only without its sandbox; the rest keeps it off the network
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed; `make browser` (a step of `make test`) installs it")
        pytest.skip("chromium is not installed (`make browser` installs it)")
    return found


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
async def site(services: Services, settings: Settings, queue: App) -> AsyncIterator[Site]:
    async with serve_console(services, settings, queue) as served:
        yield served


@pytest.fixture
async def context(browser: Browser, site: Site) -> AsyncIterator[BrowserContext]:
    opened = await browser.new_context(base_url=site.url, viewport={"width": 1400, "height": 860})
    opened.set_default_timeout(15_000)
    yield opened
    await opened.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()
