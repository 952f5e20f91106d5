"""The playground in a real browser: a customer's question answered with sources, a refund over two turns
raising a card in the staff pane, a customer's Approve refused (and audited), the approver's Approve run once
with the customer told, and a signed-in customer kept to their own conversation."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect
from procrastinate import App

from bot.services import Services
from bot.settings import Settings
from knowledge.ingest import IngestOptions
from scheduler.outbox import Outbox
from tests.browser.site import CUSTOMER_TOKEN, LEAD_TOKEN, Site, serve_console, sign_in

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "examples" / "acme" / "troubleshooting" / "device-error-codes-e101-e120.md"]
REFUND = "I want a refund for order A-10232, one monitor arrived broken"  # globex's order, cus_1011's


@pytest.fixture(scope="module")
async def site(services: Services, settings: Settings, queue: App) -> AsyncIterator[Site]:
    """A few documents (never the whole sample) and no cards, stages or switches left by other modules."""
    await services.ingestor.ingest(DOCS, IngestOptions())
    async with services.pool.connection() as conn:
        await conn.execute("TRUNCATE web_posts, autonomy_stages, policy_switches, outbox_deliveries, outbox")
    async with serve_console(services, settings, queue) as served:
        yield served


async def ask(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    await box.fill(text)
    await box.press("Enter")
    await expect(box).to_have_value("")  # stored and queued


STREAMED_PANES = """() => new Promise((resolve) => {
    const panes = new Set();
    const source = new EventSource("/playground/events?after=0");
    source.addEventListener("post", (event) => panes.add(JSON.parse(event.data).pane));
    source.addEventListener("ready", () => { source.close(); resolve([...panes]); });
})"""


async def _streamed_panes(page: Page) -> set[str]:
    """The panes of every post the event stream sends this page's session, up to its "ready"."""
    return set(await page.evaluate(STREAMED_PANES))


async def test_a_customer_gets_a_cited_answer_and_asks_for_a_person_whom_staff_claim_and_hand_back(
    page: Page, site: Site, screenshots: Path
) -> None:
    await sign_in(page, LEAD_TOKEN, path="/playground?org=globex&customer=cus_1011&as=customer")
    customer = page.locator("#customer")
    await ask(page, "What does error E118 mean?")
    await expect(customer.locator(".post.mine")).to_contain_text("What does error E118 mean?")
    answer = customer.get_by_role("article", name="Answer")
    await expect(answer).to_contain_text("E118")
    sources = answer.get_by_role("list", name="Sources")
    await expect(sources).to_contain_text(
        re.compile(r"\[1\] Device and app error codes E101–E120 › .* · updated (today|\d+ days? ago)")
    )
    await expect(answer.get_by_role("button", name="Talk to a human")).to_be_visible()
    await answer.get_by_text("Not helpful", exact=True).click()  # opens a comment field
    await answer.get_by_label("What was wrong?").fill("I wanted to know how to fix it")
    await answer.get_by_role("button", name="Send").click()
    await expect(page.locator("#toast")).not_to_be_empty()
    async with site.pool.connection() as conn:
        cur = await conn.execute("SELECT comment FROM feedback ORDER BY id DESC LIMIT 1")
        assert await cur.fetchone() == ("I wanted to know how to fix it",)
    await expect(answer.get_by_role("button", name="Helpful", exact=True)).to_be_visible()

    # the customer asks for a person: a hand-off card that staff claim, hand back and close
    await answer.get_by_role("button", name="Talk to a human").click()
    await expect(customer).to_contain_text("I've asked a person from our team to join")
    card = page.locator("#staff").get_by_role("article", name="Hand-off: the customer asked for a person")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("Open the conversation")
    await page.get_by_label("Who am I").select_option("staff")
    await page.get_by_role("button", name="Switch").click()
    card = page.locator("#staff").get_by_role("article", name="Hand-off: the customer asked for a person")
    await card.get_by_role("button", name="Claim").click()
    await expect(card).to_contain_text("claimed by lena")
    await expect(card.get_by_role("button", name="Claim")).to_have_count(0)
    await card.get_by_role("button", name="Hand back to the bot").click()
    await expect(card).to_contain_text("returned")
    await card.get_by_role("button", name="Close").click()
    await expect(card).to_contain_text("closed")
    await expect(card.get_by_role("button")).to_have_count(0)
    await page.screenshot(path=screenshots / "playground-answer.png")


async def test_a_refund_raises_a_card_a_customers_approve_is_refused_and_the_approvers_runs_once(
    context: BrowserContext, page: Page, site: Site, screenshots: Path
) -> None:
    await sign_in(page, LEAD_TOKEN, path="/playground?org=globex&customer=cus_1011&as=customer")
    await page.get_by_role("button", name="New conversation").click()
    customer, staff = page.locator("#customer"), page.locator("#staff")
    await ask(page, REFUND)
    await expect(customer.get_by_role("article", name="Answer")).to_have_count(1)  # it asks how much
    await ask(page, "$30")
    card = staff.get_by_role("article", name="Approval needed: refund $30.00")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text(REFUND)  # the customer's words
    for fact in ("Risk", "Confidence", "Rule", "Expires", "Inputs"):
        await expect(card.get_by_text(fact, exact=True)).to_be_visible()
    approval_id = re.search(r"apr_\w+", await card.inner_text())
    assert approval_id is not None
    # a scheduled job's reminder (left in the outbox) reaches the staff channel too
    await Outbox(site.pool).add(
        kind="staff_note",
        text=f"Reminder: {approval_id.group()} expires soon",
        source="test",
        payload={"approval_id": approval_id.group()},
    )
    await expect(staff.get_by_text(f"Reminder: {approval_id.group()} expires soon")).to_be_visible(timeout=10_000)
    assert await _streamed_panes(page) == {"customer", "staff"}  # staff may see both

    # as the customer: refused, said so, audited, and the card still waits
    await card.get_by_role("button", name="Approve", exact=True).click()
    await expect(page.locator("#toast")).to_have_text("Customers cannot approve or deny actions.")
    await expect(card.get_by_role("button", name="Approve", exact=True)).to_be_visible()
    async with site.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT actor, actor_role FROM audit_log WHERE event = 'decision_refused' AND subject_id = %s",
            (approval_id.group(),),
        )
        assert await cur.fetchall() == [("cus_1011", "customer")]

    # as an approver: the refund runs once; the card says so and the customer is told
    await page.get_by_label("Who am I").select_option("approver")
    await page.get_by_role("button", name="Switch").click()
    card = page.locator("#staff").get_by_role("article", name="Approval needed: refund $30.00")
    await card.get_by_role("button", name="Approve", exact=True).click()
    await expect(card.get_by_role("status")).to_contain_text("Approved and done by lena")
    await expect(card.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    await expect(page.locator("#customer").get_by_role("article", name="Answer").last).to_contain_text("Good news")
    await page.screenshot(path=screenshots / "playground-refund.png")

    # and why: the card's decision opens the console's explanation of it
    async with context.expect_page() as opened:
        await card.get_by_role("link", name=re.compile(r"^dec_")).click()
    decision = await opened.value
    await expect(decision.get_by_role("heading", name="How it was decided")).to_be_visible()
    await expect(decision.locator("#chain")).to_contain_text("refund")
    await expect(decision.locator("#chain")).to_contain_text(approval_id.group())
    await decision.close()

    # a second Approve sent by hand (the same session, its CSRF token) changes nothing
    token = await page.locator("meta[name=csrf-token]").get_attribute("content")
    again = await context.request.post(
        "/playground/act",
        form={"csrf": token or "", "kind": "approve", "target": approval_id.group()},
        headers={"Accept": "application/json"},
    )
    assert again.ok
    async with site.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM audit_log WHERE event = 'executed' AND subject_id = %s", (approval_id.group(),)
        )
        assert await cur.fetchone() == (1,)


async def test_a_signed_in_customer_sees_only_their_own_conversation(
    context: BrowserContext, page: Page, site: Site, screenshots: Path
) -> None:
    await sign_in(page, CUSTOMER_TOKEN, path="/playground?org=initech&customer=cus_1012&as=lead")
    await expect(page.get_by_role("heading", name="Shared channel · globex · cus_1011")).to_be_visible()
    await expect(page.locator("#staff")).to_have_count(0)
    await expect(page.get_by_label("Org")).to_have_count(0)
    await expect(page.get_by_label("Who am I").locator("option")).to_have_text(["customer"])
    await page.screenshot(path=screenshots / "playground-customer.png")
    # everything the event stream sends this identity, up to "ready": their conversation, never the staff channel
    await ask(page, "Can I pay with PayPal?")
    await expect(page.locator("#customer .post.mine")).to_have_count(1)
    assert await _streamed_panes(page) == {"customer"}
    token = await page.locator("meta[name=csrf-token]").get_attribute("content")
    elsewhere = await context.request.post(
        "/playground/act",
        form={"csrf": token or "", "kind": "helpful", "target": "dec_x", "conversation": "web:initech:cus_1012:t1"},
        headers={"Accept": "application/json"},
    )
    assert elsewhere.status == 403
    # nor on an answer given in another conversation, named from this one
    thread = await page.locator("[data-stream]").get_attribute("data-seat-thread")
    async with site.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id FROM decisions WHERE conversation_key <> %s LIMIT 1", (f"web:globex:cus_1011:{thread}",)
        )
        row = await cur.fetchone()
    assert row is not None
    forged = await context.request.post(
        "/playground/act",
        form={"csrf": token or "", "kind": "not_helpful", "target": row[0], "comment": "forged"},
        headers={"Accept": "application/json"},
    )
    assert forged.status == 403
