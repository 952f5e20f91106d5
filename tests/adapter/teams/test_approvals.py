"""The staff side in Teams: approval cards in the staff channel, Universal Actions, exactly-once execution."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from bot.services import Services
from escalation.models import ApprovalState
from tests.adapter.teams.conftest import BEA, CASEY, GUEST, LENA, SAM, STAFF_CHANNEL, STAFF_TENANT, Teams
from tests.fakes.bot_connector import Sent

pytestmark = pytest.mark.integration
_n = itertools.count(1)


async def request_refund(teams: Teams, amount: str = "$30") -> tuple[str, Sent]:
    """A customer asks for a refund over two turns; returns their chat and the approval card staff got."""
    chat = f"a:refund-{next(_n)}"
    await teams.say(CASEY, "I want a refund for order A-10228, the plug arrived broken", conversation=chat)
    await teams.say(CASEY, amount, conversation=chat)
    cards = [
        s
        for s in teams.connector.posted(STAFF_CHANNEL)
        if s.card and s.card.get("actions") and s.card["actions"][0]["data"].get("conversation") == f"teams:{chat}"
    ]
    assert len(cards) == 1, teams.connector.posted(STAFF_CHANNEL)
    return chat, cards[0]


def data_of(card: Sent, **inputs: Any) -> dict[str, Any]:
    """What Teams sends on a click: the action's data with the card's inputs merged in."""
    assert card.card is not None
    return {**card.card["actions"][0]["data"], **inputs}


async def audit_events(services: Services, approval_id: str) -> list[tuple[str, str]]:
    async with services.pool.connection() as conn:
        cur = await conn.execute("SELECT event, actor FROM audit_log WHERE subject_id = %s ORDER BY id", (approval_id,))
        return [(str(event), str(actor)) for event, actor in await cur.fetchall()]


async def test_refund_card_approved_with_changes_runs_once_and_tells_the_customer(
    teams: Teams, services: Services
) -> None:
    chat, card = await request_refund(teams)
    texts = [s.text for s in teams.connector.posted(chat)]
    assert texts[0] == "How much should be refunded (for example $25.00)?"
    assert texts[1].startswith("I've asked a teammate to approve a refund of $30.00 for order A-10228")

    assert card.method == "CREATE"  # a new thread in the staff channel, by create_conversation
    assert card.conversation_id.startswith(STAFF_CHANNEL)
    assert card.card is not None
    shown = card.card_text()
    assert "Approval needed: refund" in shown
    assert "order_id: A-10228 (from the customer's message)" in shown
    assert "amount_cents: $30.00 (from the customer's message)" in shown
    assert [a["verb"] for a in card.card["actions"]] == ["approve", "approve_changes", "deny", "take_over"]
    assert {i["id"] for i in card.card["body"] if i["type"].startswith("Input.")} == {"amount", "reason"}
    approval_id = data_of(card)["approval"]

    response = await teams.click(
        BEA,
        "approve_changes",
        data_of(card, amount="25", reason="Partial: one plug"),
        conversation=card.conversation_id,
    )
    assert response["statusCode"] == 200 and response["type"] == "application/vnd.microsoft.card.adaptive"
    decided = response["value"]
    decided_text = Sent("PUT", "", "", None, {"attachments": [{"contentType": response["type"], "content": decided}]})
    # the outcome in the words every platform uses (bot.presentation.words)
    lines = decided_text.card_text().splitlines()
    assert any(line.startswith("✅ Approved with changes and done by Bea Billing at ") for line in lines)
    assert "Note: Partial: one plug" in lines and any(
        line.startswith("Result: (demo) Refunded $25.00") for line in lines
    )
    assert [a["verb"] for a in decided["actions"]] == ["undo"]  # nothing to decide again; a refund can be undone

    [update] = teams.connector.updates()[-1:]
    assert update.activity_id == card.activity_id and update.card == decided  # refreshed in place for everyone
    told = teams.connector.posted(chat)[-1]
    assert told.text.startswith("Good news: (demo) Refunded $25.00")

    approval = await services.escalation.approval(approval_id)
    assert approval is not None and approval.state is ApprovalState.EXECUTED and approval.attempts == 1
    assert approval.decided_by == "aad-bea" and approval.params["amount_cents"] == 2500

    # Teams delivers an invoke again (here three times, two at once), and another approver clicks late: each
    # sees the decided card, nothing runs again, the customer is not told twice
    sent_before = len(teams.connector.sent)

    async def redeliver() -> dict[str, Any]:
        return await teams.click(
            BEA, "approve_changes", data_of(card, amount="25"), conversation=card.conversation_id, activity_id="in-dup"
        )

    again = [*await asyncio.gather(redeliver(), redeliver()), await redeliver()]
    again.append(await teams.click(LENA, "approve", data_of(card), conversation=card.conversation_id))
    assert [r["value"] for r in again] == [decided] * 4
    assert [s for s in teams.connector.sent[sent_before:] if s.conversation_id == chat] == []
    approval = await services.escalation.approval(approval_id)
    assert approval is not None and approval.attempts == 1
    events = [event for event, _ in await audit_events(services, approval_id)]
    assert events.count("executed") == 1 and events.count("approved_with_changes") == 1


async def test_only_configured_approvers_decide_and_refusals_are_audited(teams: Teams, services: Services) -> None:
    _, card = await request_refund(teams, "$20")
    approval_id = data_of(card)["approval"]
    updates_before = len(teams.connector.updates())
    refusals = {
        SAM: "You are not an approver for refund.",  # staff, but in no approver group
        CASEY: "Customers cannot approve or deny actions.",
        GUEST: "Customers cannot approve or deny actions.",  # writes from the staff tenant, home tenant initech
    }
    for person, told in refusals.items():
        response = await teams.click(person, "approve", data_of(card), conversation=card.conversation_id)
        assert response == {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": told}
    approval = await services.escalation.approval(approval_id)
    assert approval is not None and approval.state is ApprovalState.PENDING
    assert len(teams.connector.updates()) == updates_before  # the card is untouched
    refused = [actor for event, actor in await audit_events(services, approval_id) if event == "decision_refused"]
    assert refused == ["aad-sam", "aad-casey", "aad-guest"]


async def test_deny_needs_a_reason_then_the_card_and_customer_say_so(teams: Teams, services: Services) -> None:
    chat, card = await request_refund(teams, "$15")
    nudge = await teams.click(BEA, "deny", data_of(card, reason="  "), conversation=card.conversation_id)
    assert nudge["value"] == "Please give a reason; it is kept in the audit trail."
    response = await teams.click(
        BEA, "deny", data_of(card, reason="Outside the return window"), conversation=card.conversation_id
    )
    assert response["type"] == "application/vnd.microsoft.card.adaptive"
    last = response["value"]["body"][-1]["text"]
    assert last.startswith("❌ Denied by Bea Billing at ") and last.endswith(": Outside the return window")
    assert teams.connector.posted(chat)[-1].text.startswith("A teammate reviewed your request and couldn't approve it")
    bad_amount = await teams.click(BEA, "approve_changes", data_of(card, amount="lots"), conversation=chat)
    assert bad_amount["value"] == "Enter an amount such as 35.00"


async def test_talk_to_a_human_posts_a_handoff_card_and_take_over_silences_the_bot(teams: Teams) -> None:
    chat = f"a:human-{next(_n)}"
    await teams.say(CASEY, "How do I reset my password?", conversation=chat)
    [answer] = teams.connector.posted(chat)
    assert answer.card is not None
    talk = next(a for a in answer.card["actions"] if a["verb"] == "talk_to_human")
    response = await teams.click(CASEY, "talk_to_human", talk["data"], conversation=chat)
    assert response["value"].startswith("I've asked a person from our team to join")
    assert teams.connector.posted(chat)[-1].text == response["value"]  # the whole chat sees it
    [handoff] = [
        s
        for s in teams.connector.posted(STAFF_CHANNEL)
        if s.card and s.card.get("actions") and s.card["actions"][0]["data"].get("conversation") == f"teams:{chat}"
    ]
    assert "Hand-off: the customer asked for a person" in handoff.card_text() and "Org: initech" in handoff.card_text()
    assert handoff.card is not None
    data = handoff.card["actions"][0]["data"]

    taken = await teams.click(SAM, "take_over", data, conversation=handoff.conversation_id)
    assert taken["type"] == "application/vnd.microsoft.card.adaptive"
    claimed = Sent("PUT", "", "", None, {"attachments": [{"contentType": taken["type"], "content": taken["value"]}]})
    assert "State: claimed by Sam Staff" in claimed.card_text().splitlines()
    assert [a["verb"] for a in taken["value"]["actions"]] == ["hand_back", "close"]  # claimed: no Claim button
    assert teams.connector.updates()[-1].activity_id == handoff.activity_id

    posted = len(teams.connector.posted(chat))
    await teams.say(CASEY, "Hello? What does error E118 mean?", conversation=chat)
    assert len(teams.connector.posted(chat)) == posted  # a person owns the conversation: the bot stays quiet


async def test_a_staff_message_in_a_customer_thread_takes_it_over(teams: Teams) -> None:
    thread = f"19:shared@thread.tacv2;messageid={next(_n)}"
    kind = {"conversation_type": "channel", "tenant": STAFF_TENANT}
    await teams.say(CASEY, "How do I reset my password?", conversation=thread, mention=True, **kind)
    assert len(teams.connector.posted(thread)) == 1
    await teams.say(SAM, "I'll take this one, Casey.", conversation=thread, **kind)
    await teams.say(CASEY, "Thanks! And what does error E118 mean?", conversation=thread, mention=True, **kind)
    assert len(teams.connector.posted(thread)) == 1


async def test_undo_from_teams_asks_for_its_own_approval_once(teams: Teams, services: Services) -> None:
    _, card = await request_refund(teams, "$12")
    approval_id = data_of(card)["approval"]
    decided = await teams.click(BEA, "approve", data_of(card), conversation=card.conversation_id)
    undo = next(a for a in decided["value"]["actions"] if a["verb"] == "undo")
    cards_before = len(teams.connector.posted(STAFF_CHANNEL))

    asked = await teams.click(LENA, "undo", undo["data"], conversation=card.conversation_id, activity_id="in-undo")
    assert asked["value"] == "Undo asked for: it needs its own approval, on the card just posted in the staff channel."
    [undo_card] = teams.connector.posted(STAFF_CHANNEL)[cards_before:]
    assert undo_card.card is not None and "reverse_refund" in undo_card.card_text()
    assert [a["verb"] for a in undo_card.card["actions"]][:2] == ["approve", "deny"]
    undo_id = undo_card.card["actions"][0]["data"]["approval"]
    pending = await services.escalation.approval(undo_id)
    assert pending is not None and pending.rollback_of == approval_id and pending.state is ApprovalState.PENDING

    # Teams delivers the invoke again: the clicker sees the card as it stands, no second undo is asked for
    again = await teams.click(LENA, "undo", undo["data"], conversation=card.conversation_id, activity_id="in-undo")
    assert again == decided
    undos = [a.id for a in await services.escalation.list_approvals() if a.rollback_of == approval_id]
    assert undos == [undo_id] and len(teams.connector.posted(STAFF_CHANNEL)) == cards_before + 1

    # a customer cannot ask for one
    refused = await teams.click(CASEY, "undo", undo["data"], conversation=card.conversation_id)
    assert refused["value"] == "Customers cannot undo actions."


async def test_a_claimed_handoff_is_handed_back_and_closed_from_its_card(teams: Teams, services: Services) -> None:
    chat = f"a:handback-{next(_n)}"
    await teams.say(CASEY, "How do I reset my password?", conversation=chat)
    [answer] = teams.connector.posted(chat)
    assert answer.card is not None
    talk = next(a for a in answer.card["actions"] if a["verb"] == "talk_to_human")
    await teams.click(CASEY, "talk_to_human", talk["data"], conversation=chat)
    [handoff] = [
        s
        for s in teams.connector.posted(STAFF_CHANNEL)
        if s.card and s.card.get("actions") and s.card["actions"][0]["data"].get("conversation") == f"teams:{chat}"
    ]
    assert handoff.card is not None
    assert [a["verb"] for a in handoff.card["actions"]] == ["take_over", "hand_back", "close"]
    data = handoff.card["actions"][0]["data"]
    handoff_id = data["handoff"]
    await teams.click(SAM, "take_over", data, conversation=handoff.conversation_id)

    # only the person who claimed it (or a lead) hands it back; a refusal leaves the card as it is
    updates = len(teams.connector.updates())
    refused = await teams.click(BEA, "hand_back", data, conversation=handoff.conversation_id)
    assert refused["value"] == "Only aad-sam or a team lead can hand this conversation back."
    assert len(teams.connector.updates()) == updates

    back = await teams.click(SAM, "hand_back", data, conversation=handoff.conversation_id)
    shown = Sent("PUT", "", "", None, {"attachments": [{"contentType": back["type"], "content": back["value"]}]})
    assert "State: returned" in shown.card_text().splitlines()
    assert [a["verb"] for a in back["value"]["actions"]] == ["take_over", "hand_back", "close"]
    assert teams.connector.updates()[-1].activity_id == handoff.activity_id
    assert (await services.escalation.handoffs.get(handoff_id)).state.value == "returned"
    posted = len(teams.connector.posted(chat))
    await teams.say(CASEY, "What does error E118 mean?", conversation=chat)
    assert len(teams.connector.posted(chat)) == posted + 1  # the bot answers again

    closed = await teams.click(SAM, "close", data, conversation=handoff.conversation_id)
    assert "actions" not in closed["value"]  # closed: nothing left to click
    assert (await services.escalation.handoffs.get(handoff_id)).state.value == "closed"
    assert teams.connector.updates()[-1].card == closed["value"]
    late = await teams.click(LENA, "close", data, conversation=handoff.conversation_id)
    assert late["type"] == "application/vnd.microsoft.activity.message"
