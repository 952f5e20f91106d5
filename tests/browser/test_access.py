"""Signing in to the console: pages need it, a wrong token is refused, and no form is taken without this
session's CSRF token."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import BrowserContext, Page, expect

from tests.browser.site import LEAD_TOKEN, Site, sign_in


async def test_a_page_needs_sign_in_and_then_opens(page: Page, site: Site, screenshots: Path) -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/signin\?next=(%2F|/)$"))
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.screenshot(path=screenshots / "signin.png")
    await page.get_by_label("Token").fill(LEAD_TOKEN)
    async with page.expect_response(re.compile(r"/$")) as landed:
        await page.get_by_role("button", name="Sign in").click()
    headers = await (await landed.value).all_headers()
    assert headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in headers["content-security-policy"]
    await expect(page.get_by_role("heading", name="Supportbot console")).to_be_visible()
    await expect(page.get_by_text("Signed in as lena (lead)")).to_be_visible()
    await page.screenshot(path=screenshots / "home.png")


async def test_a_wrong_token_is_refused(page: Page, site: Site) -> None:
    await page.goto("/signin")
    await page.get_by_label("Token").fill("not-the-token-at-all")
    async with page.expect_response(re.compile(r"/signin$")) as answer:
        await page.get_by_role("button", name="Sign in").click()
    assert (await answer.value).status == 401
    await expect(page.get_by_role("alert")).to_have_text("That token is not valid.")
    response = await page.goto("/")
    assert response is not None and "/signin" in response.url


async def test_a_form_without_this_sessions_csrf_token_is_refused(
    context: BrowserContext, page: Page, site: Site
) -> None:
    await sign_in(page, LEAD_TOKEN)
    token = await page.locator("meta[name=csrf-token]").get_attribute("content")
    assert token
    # the browser's cookies go with these requests: only the CSRF token differs
    for form in ({}, {"csrf": "forged-" + token}):
        refused = await context.request.post("/signout", form=form, max_redirects=0)
        assert refused.status == 403, form
        assert "did not come from this console" in await refused.text()
    await page.reload()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # still signed in
    # the same request with the token goes through
    accepted = await context.request.post("/signout", form={"csrf": token}, max_redirects=0)
    assert accepted.status == 303
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_signing_in_needs_the_csrf_token_too(context: BrowserContext, site: Site) -> None:
    refused = await context.request.post("/signin", form={"token": LEAD_TOKEN}, max_redirects=0)
    assert refused.status == 403
