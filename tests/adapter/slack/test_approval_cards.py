"""Cards that never lie: only the click that changed an approval refreshes its card, a refresh never puts an
earlier state over a later one, and "In their words" is the message that started the workflow."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random

import pytest

from bot.channels import ChannelStore
from bot.demo.backend import DemoBackend
from bot.services import Services
from escalation.models import ApprovalState
from tests.adapter.slack.harness import STAFF_CHANNEL, Rig, blocks_text
from tests.adapter.slack.refunds import REFUND, TEAM, refund_card
from tests.adapter.slack.waiting import until
from tests.fakes.slack_api import Call

pytestmark = pytest.mark.integration

APPROVERS = ("U0LEAD", "U0BILL")  # support-leads and billing: both approve refunds
RUNNING = "Approved, running"
DONE = "Approved and done"


@pytest.fixture(autouse=True)
async def fresh_orders(prepared: Services) -> None:
    await DemoBackend(prepared.pool).reset_demo_data()


async def _refund_card(rig: Rig, amount: str) -> tuple[str, Call]:
    """A refund asked for over two turns (the request, then the amount); returns (approval id, its card)."""
    _, approval_id, card = await refund_card(rig, amount)
    return approval_id, card


async def _updates_of(rig: Rig, approval_id: str) -> list[Call]:
    ref = await rig.adapter.channels.card(approval_id, "slack")
    assert ref is not None
    return [c for c in rig.fake.calls_to("chat.update") if c.params.get("ts") == ref.message_ref]


def _their_words(call: Call) -> str:
    for block in json.loads(blocks_text(call)):
        text = (block.get("text") or {}).get("text", "")
        if text.startswith("*In their words*"):
            return str(text.removeprefix("*In their words*\n>"))
    raise AssertionError("no 'In their words' on the card")


async def test_forty_racing_clicks_write_the_card_at_most_twice_and_last_with_the_final_state(
    rig: Rig, prepared: Services
) -> None:
    approval_id, _ = await _refund_card(rig, "$30")
    ephemerals_before = len(rig.fake.calls_to("chat.postEphemeral"))
    clicks = [{"user": APPROVERS[i % 2]} for i in range(20)]  # approvers: one wins, the rest lose the race
    clicks += [{"user": f"U0NOBODY{i}"} for i in range(10)]  # staff who are not approvers
    clicks += [{"user": "U0CUST", "team": TEAM} for _ in range(10)]  # the customer
    random.Random(13).shuffle(clicks)
    responses = await asyncio.gather(*(rig.click("sb:approve", approval_id, **who) for who in clicks))
    assert {r.status for r in responses} == {200}
    # every clicker hears what happened, privately: the one who approved, and the 39 who did not
    await rig.fake.wait_for_async("chat.postEphemeral", count=ephemerals_before + 40, timeout=30)
    approval = await prepared.escalation.approval(approval_id)
    assert approval is not None and approval.state is ApprovalState.EXECUTED and approval.attempts == 1
    await asyncio.sleep(0.3)  # a stray refresh after the last answer would show up here
    updates = await _updates_of(rig, approval_id)
    running = sum(RUNNING in blocks_text(u) for u in updates)
    assert 1 <= len(updates) <= 2, f"{len(updates)} chat.update calls, {running} showing '{RUNNING}'"
    assert DONE in blocks_text(updates[-1]) and RUNNING not in blocks_text(updates[-1])


async def test_in_their_words_is_the_message_that_started_the_workflow_not_the_last_answer(rig: Rig) -> None:
    approval_id, card = await _refund_card(rig, "$40")
    assert _their_words(card) == REFUND
    await rig.click("sb:approve", approval_id, user="U0LEAD")
    [*_, decided] = await until(lambda: _updates_of(rig, approval_id))
    assert DONE in blocks_text(decided) and _their_words(decided) == REFUND


async def test_a_refresh_of_an_older_version_never_replaces_a_newer_card(rig: Rig, prepared: Services) -> None:
    approval_id, _ = await _refund_card(rig, "$30")
    await rig.click("sb:approve", approval_id, user="U0LEAD")
    final = await until(lambda: _updates_of(rig, approval_id))
    assert DONE in blocks_text(final[-1])
    done = await prepared.escalation.approval(approval_id)
    assert done is not None and done.state is ApprovalState.EXECUTED
    delivery = rig.adapter.delivery
    # a refresh rendered from an earlier read ("approved, running") that arrives late writes nothing
    running = dataclasses.replace(done, state=ApprovalState.EXECUTING, version=done.version - 1, result=None)
    stale = await delivery._approval_blocks(running, reason="late", link=None)
    assert await delivery.show_approval(running, stale) is False
    assert await delivery.show_approval(done, stale) is False  # the same version is not written twice either
    assert await delivery.refresh_approval(approval_id) is False
    assert len(await _updates_of(rig, approval_id)) == len(final)
    assert RUNNING not in blocks_text((await _updates_of(rig, approval_id))[-1])


async def test_two_writers_racing_on_one_card_cannot_regress_it(prepared: Services) -> None:
    """The compare-and-set holds the card's row while the platform is written: an older writer that comes
    second waits, then finds the newer version recorded and writes nothing; a newer one still gets through."""
    channels = ChannelStore(prepared.pool)
    await channels.save_card("apr_cas_race", "slack", channel_id=STAFF_CHANNEL, message_ref="9.1", version=1)
    written: list[int] = []
    release = asyncio.Event()

    async def write(version: int, *, hold: bool = False) -> None:
        async with channels.showing("apr_cas_race", "slack", version=version) as card:
            if card is not None:
                if hold:
                    await release.wait()
                written.append(version)

    newer = asyncio.create_task(write(4, hold=True))
    await asyncio.sleep(0.2)  # the newer writer holds the card
    older = asyncio.create_task(write(3))
    await asyncio.sleep(0.2)
    assert not older.done()  # it waits for the newer writer instead of racing it
    release.set()
    await asyncio.gather(newer, older)
    await write(5)
    assert written == [4, 5]


async def test_a_refused_click_does_not_refresh_the_card_even_when_the_approval_moved_meanwhile(
    rig: Rig, prepared: Services
) -> None:
    """The race of the 40 clicks, made deterministic: a refused click reads the approval (pending), and while it
    is being refused another approver decides. The refused click must not re-render the card: it changed nothing."""
    approval_id, _ = await _refund_card(rig, "$30")
    ephemerals_before = len(rig.fake.calls_to("chat.postEphemeral"))
    async with prepared.pool.connection() as conn, conn.transaction():
        await conn.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")  # the refusal waits to be recorded
        await rig.click("sb:approve", approval_id, user="U0NOBODY")

        async def refusal_waiting() -> bool:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'audit_log'::regclass"
            )
            row = await cur.fetchone()
            return bool(row and row[0])

        assert await until(refusal_waiting, timeout=10)
        # meanwhile someone else decided: the approval moved on without this click
        await conn.execute(
            "UPDATE approvals SET state = 'denied', decided_by = 'U0LEAD', decided_at = now(), "
            "decision_note = 'duplicate request', version = version + 1 WHERE id = %s",
            (approval_id,),
        )
    [told] = (await rig.fake.wait_for_async("chat.postEphemeral", count=ephemerals_before + 1))[ephemerals_before:]
    assert told.params["user"] == "U0NOBODY" and told.params["text"] == "You are not an approver for refund."
    await asyncio.sleep(0.3)
    assert await _updates_of(rig, approval_id) == []  # the refused click left the card alone
