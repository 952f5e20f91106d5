"""Customers in Teams: cited answers as Adaptive Cards, channel threads, tenants scoped to their org."""

from __future__ import annotations

import itertools
import json
import re

import pytest

from tests.adapter.teams.conftest import BOT_ID, CASEY, GINA, NOBODY, STAFF_CHANNEL, Teams
from tests.conftest import turns_finished

pytestmark = pytest.mark.integration
_n = itertools.count(1)


def personal() -> str:
    return f"a:personal-{next(_n)}"


async def test_a_question_is_answered_with_citations_in_a_card(teams: Teams) -> None:
    chat = personal()
    assert await teams.say(CASEY, "How do I reset my password?", conversation=chat) == 202

    typing = teams.connector.posted(chat, kind="typing")
    [answer] = teams.connector.posted(chat)
    assert typing and teams.connector.sent.index(typing[0]) < teams.connector.sent.index(answer)
    assert answer.body["from"]["id"] == BOT_ID
    card = answer.card
    assert card is not None and card["version"] == "1.4"
    blocks = [item["text"] for item in card["body"]]
    # the direct answer (the steps) first, then the pointer, small, then the sources
    assert blocks[0].startswith("1. On the sign-in screen, tap or click **Forgot password?**.") and blocks[0].endswith(
        " [1]"
    )
    assert blocks[1] == "More in [1]." and card["body"][1]["isSubtle"] is True
    assert blocks[2] == "Sources"
    assert blocks[3].startswith("[1] [")
    assert "(https://help.acme.example/accounts/reset-your-password)" in blocks[3]
    assert "(updated " in blocks[3]
    actions = card["actions"]
    assert [(a["type"], a["verb"], a["title"]) for a in actions] == [
        ("Action.Execute", "helpful", "Helpful"),
        ("Action.Execute", "not_helpful", "Not helpful"),
        ("Action.Execute", "talk_to_human", "Talk to a human"),
    ]
    assert actions[0]["data"]["target"].startswith("dec_")
    # nothing internal reaches the customer
    assert "confidence" not in str(card).lower() and "rule" not in answer.card_text().lower()

    thanks = await teams.click(CASEY, "helpful", actions[0]["data"], conversation=chat)
    assert thanks == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "Thanks for letting us know.",
    }


async def test_in_a_channel_the_bot_answers_mentions_in_the_thread(teams: Teams) -> None:
    thread = f"19:initech-support@thread.tacv2;messageid={next(_n)}"
    question = "How do I reset my password?"
    await teams.say(CASEY, question, conversation=thread, conversation_type="channel")
    assert teams.connector.posted(thread) == []  # not addressed to the bot

    await teams.say(CASEY, question, conversation=thread, conversation_type="channel", mention=True)
    [reply] = teams.connector.posted(thread)
    assert reply.conversation_id == thread  # the thread's own id: the reply stays in the chain
    assert reply.reply_to is not None and reply.reply_to.startswith("in-")
    assert reply.card is not None and "reset-your-password" in reply.card_text()


async def test_answers_are_scoped_to_the_tenants_org(teams: Teams) -> None:
    question = "Who is our account manager and how do we escalate a P1 incident?"
    globex_chat, initech_chat = personal(), personal()
    await teams.say(GINA, question, conversation=globex_chat)
    await teams.say(CASEY, question, conversation=initech_chat)
    [globex] = teams.connector.posted(globex_chat)
    [initech] = teams.connector.posted(initech_chat)
    assert "Daniel Okafor" in globex.card_text() and "globex" in globex.card_text()
    assert "Daniel Okafor" not in initech.card_text() + initech.text
    assert "globex" not in (initech.card_text() + initech.text).lower()


async def test_an_unbound_tenant_gets_no_answers_and_staff_get_one_handoff(teams: Teams) -> None:
    before = len(teams.connector.posted(STAFF_CHANNEL))
    for _ in range(2):
        chat = personal()
        await teams.say(NOBODY, "How do I reset my password?", conversation=chat)
        [reply] = teams.connector.posted(chat)
        assert reply.text.startswith("This Microsoft Teams organisation is not connected to our support yet")
        assert reply.card is None
    cards = teams.connector.posted(STAFF_CHANNEL)[before:]
    assert len(cards) == 1  # one hand-off card for the tenant, however many customers write
    text = cards[0].card_text()
    assert "tenant-nobody" in text and "supportbot channels bind tenant-nobody ORG --platform teams" in text
    assert "hnd_" in json.dumps(cards[0].card)  # a real hand-off a person can claim


ORDERED_QUESTIONS = (
    "How do I reset my password?",
    "How long do I have to return something?",
    "What does error E118 mean?",
    "Do you ship to Canada?",
    "How do I change my delivery address?",
)


async def test_follow_ups_sent_together_are_answered_in_order(teams: Teams) -> None:
    """Sent without waiting for answers: the queue runs one conversation's turns one after another."""
    chat = personal()
    for question in ORDERED_QUESTIONS:
        activity = teams.activity("message", CASEY, conversation=chat, text=question)
        assert (await teams.client.post("/api/messages", json=activity)).status == 202
    await turns_finished(teams.pool, timeout=90)
    replies = teams.connector.posted(chat)
    decisions = [re.search(r"dec_[0-9a-f]{12}", json.dumps(reply.body)) for reply in replies]
    asked = []
    for found in decisions:
        assert found is not None
        async with teams.pool.connection() as conn:
            row = await (await conn.execute("SELECT inbound FROM decisions WHERE id = %s", (found.group(),))).fetchone()
        asked.append(row[0] if row else None)
    assert asked == list(ORDERED_QUESTIONS)
