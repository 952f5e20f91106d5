"""The console pages for staff and leads on a demo-seeded database: each page's content and role checks over
plain HTTP (cheap), and in a real browser the decision chain and a lead promoting a workflow, with a screenshot
of every page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, expect

from bot.demo.run import DemoOptions, DemoReport, clear_demo
from bot.services import Services
from tests.browser.site import APPROVER_TOKEN, CUSTOMER_TOKEN, LEAD_TOKEN, STAFF_TOKEN, Site, sign_in
from tests.integration.demo_data import seed_demo
from tests.integration.digest_seed import scenarios_passed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]  # the module seeds the demo first
FEW = DemoOptions(weeks=2, per_week=6)  # the pages need a little of everything, not the digest's volume
PAGES = {
    "/console/overview": ["Per workflow", "refund", "Exceptions this week"],
    "/console/decisions": ["Conversations and decisions", "dec_"],
    "/console/queue": ["Pending approvals", "Hand-offs not closed"],
    "/console/knowledge": ["Gaps since", "Negative feedback", "maria.lopez@acme.example"],
    "/console/autonomy": ["Kill switch", "refund", "Week of"],
    "/console/audit?event=approval_requested": ["Audit trail", "Export CSV", "approval requested (autonomy_approve)"],
}


@pytest.fixture(scope="module", autouse=True)
async def demo(services: Services) -> AsyncIterator[DemoReport]:
    yield await seed_demo(services, now=datetime.now(UTC), options=FEW)
    await clear_demo(services)


async def _signed_in(site: Site, token: str) -> aiohttp.ClientSession:
    client = aiohttp.ClientSession(base_url=site.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    form = await (await client.get("/signin")).text()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', form)
    assert csrf is not None
    answer = await client.post("/signin", data={"token": token, "csrf": csrf.group(1)}, allow_redirects=False)
    assert answer.status == 303
    return client


async def test_every_page_shows_its_figures_to_staff(site: Site) -> None:
    async with await _signed_in(site, STAFF_TOKEN) as client:
        for path, expected in PAGES.items():
            answer = await client.get(path)
            assert answer.status == 200, path
            body = await answer.text()
            for text in expected:
                assert text in body, (path, text)
        chart = await client.get("/console/overview/chart.png")
        assert chart.status == 200 and (await chart.read()).startswith(b"\x89PNG")
        csv = await client.get("/console/audit.csv?event=denied")
        assert csv.status == 200 and (await csv.text()).startswith("id,at,event,actor")
        wrong = await client.get("/console/decisions?since=yesterday")
        assert wrong.status == 200 and "since must be a date" in await wrong.text()
        # staff see the stages but cannot change them: the route is for leads
        refused = await client.post("/console/autonomy/stage", data={"workflow": "refund", "stage": "auto"})
        assert refused.status == 403


async def test_a_customer_gets_nothing_of_the_console(site: Site) -> None:
    async with await _signed_in(site, CUSTOMER_TOKEN) as client:
        paths = [path.split("?")[0] for path in PAGES]
        for path in [*paths, "/console/overview/chart.png", "/console/audit.csv", "/console/decisions/dec_x"]:
            answer = await client.get(path, allow_redirects=False)
            assert answer.status == 403, path
            assert "dec_" not in await answer.text()
        home = await (await client.get("/")).text()
        assert "/console/" not in home


async def test_approvals_are_decided_from_the_console_by_approvers_only(site: Site, services: Services) -> None:
    async with services.pool.connection() as conn:
        row = await (await conn.execute("SELECT id FROM approvals WHERE demo AND state = 'pending' LIMIT 1")).fetchone()
    assert row is not None, "the demo leaves its latest requests pending"
    target = row[0]
    for token, expected in ((STAFF_TOKEN, "You are not an approver"), (APPROVER_TOKEN, "Denied by maria")):
        async with await _signed_in(site, token) as client:
            queue = await (await client.get("/console/queue")).text()
            assert target in queue
            csrf = re.search(r'name="csrf-token" content="([^"]+)"', queue)
            assert csrf is not None
            form = {"approval": target, "verb": "deny", "reason": "Duplicate request", "csrf": csrf.group(1)}
            answer = await client.post("/console/queue/decide", data=form)
            assert answer.status == 200 and expected in await answer.text(), token
    async with services.pool.connection() as conn:
        state, events = await (
            await conn.execute(
                "SELECT a.state, array(SELECT event || ':' || actor FROM audit_log WHERE subject_id = a.id "
                "ORDER BY id) FROM approvals a WHERE a.id = %s",
                (target,),
            )
        ).fetchone() or (None, None)
    assert state == "denied"
    assert events is not None and events[-2:] == ["decision_refused:sam", "denied:maria"]


async def test_the_decision_page_shows_the_explain_chain(page: Page, site: Site, screenshots: Path) -> None:
    await sign_in(page, STAFF_TOKEN, path="/console/decisions?workflow=refund&outcome=proposed")
    await page.screenshot(path=screenshots / "console-decisions.png", full_page=True)
    await page.locator("#decisions tbody a[href^='/console/decisions/dec_']").first.click()
    await expect(page.get_by_role("heading", name="How it was decided")).to_be_visible()
    chain = page.locator("#chain")
    for step in ("Route: refund", "Policy: needs_approval", "Approval apr_", "Outcome: proposed"):
        await expect(chain).to_contain_text(step)
    await expect(page.locator("#trace")).to_be_visible()
    await expect(page.locator("#audit-rows")).to_contain_text("approval_requested")
    await page.screenshot(path=screenshots / "console-decision.png", full_page=True)
    await page.locator("#audit-rows a").first.click()
    await expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    await expect(page.locator("#audit")).to_contain_text("policy_outcome")


async def test_a_lead_promotes_a_workflow(page: Page, site: Site, screenshots: Path, services: Services) -> None:
    await scenarios_passed(services, "cancel_order")  # promotion needs the workflow's scenarios to pass (issue 16)
    await sign_in(page, LEAD_TOKEN, path="/console/autonomy")
    row = page.locator("#workflow-cancel_order")
    await expect(row.locator(".stage")).to_have_text("approve")
    await page.get_by_role("button", name="Promote cancel_order to auto").click()
    await expect(page.locator("#flash")).to_contain_text("moved cancel_order from approve to auto")
    await expect(row.locator(".stage")).to_have_text("auto")
    await page.screenshot(path=screenshots / "console-autonomy.png", full_page=True)
    await page.get_by_role("button", name="Demote cancel_order to approve").click()
    await expect(row.locator(".stage")).to_have_text("approve")
    await page.get_by_role("button", name="Turn the kill switch on").click()
    await expect(page.get_by_role("heading", name="Kill switch: ON")).to_be_visible()
    assert await site.services.escalation.autonomy.kill_switch()
    await page.get_by_role("button", name="Turn the kill switch off").click()
    await expect(page.get_by_role("heading", name="Kill switch: off")).to_be_visible()
    await page.goto("/console/audit?event=autonomy_changed&workflow=cancel_order&actor=lena")
    rows = page.locator("#audit tbody tr")  # newest first
    await expect(rows.nth(0)).to_contain_text("autonomy auto → approve")
    await expect(rows.nth(1)).to_contain_text("autonomy approve → auto: promoted from the web console")


async def test_screenshots_of_the_other_pages(page: Page, site: Site, screenshots: Path) -> None:
    await sign_in(page, LEAD_TOKEN, path="/console/overview")
    await expect(page.locator("#per-workflow")).to_contain_text("refund")
    for name in ("overview", "queue", "knowledge", "audit"):
        await page.goto(f"/console/{name}")
        # the long lists (documents, a hundred audit rows) are shot as the screen shows them
        await page.screenshot(path=screenshots / f"console-{name}.png", full_page=name in ("overview", "queue"))
