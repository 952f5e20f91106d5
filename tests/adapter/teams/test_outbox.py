"""Notices from scheduled jobs reach Teams: the customer's conversation, or the staff channel."""

from __future__ import annotations

import pytest

from bot.services import Services
from bot.teams.outbox_drain import drain_once
from scheduler.outbox import Outbox
from tests.adapter.teams.conftest import CASEY, STAFF_CHANNEL, Teams

pytestmark = pytest.mark.integration


async def test_outbox_notices_are_delivered_and_failures_recorded(teams: Teams, services: Services) -> None:
    chat = "a:outbox-1"
    await teams.say(CASEY, "How do I reset my password?", conversation=chat)  # the bot now knows this chat
    outbox = Outbox(services.pool)
    await outbox.add(
        kind="approval_expired", text="Your refund request expired.", source="t", conversation_key=f"teams:{chat}"
    )
    await outbox.add(kind="reminder", text="Approval apr_zz expires in 2h.", source="t")
    await outbox.add(kind="reminder", text="To a chat we never saw.", source="t", conversation_key="teams:a:never-seen")

    await drain_once(outbox, teams.runtime.delivery)
    assert teams.connector.posted(chat)[-1].text == "Your refund request expired."
    assert any(s.text == "Approval apr_zz expires in 2h." for s in teams.connector.posted(STAFF_CHANNEL))
    failed = [f for f in await outbox.failures() if f["text"] == "To a chat we never saw." and f["platform"] == "teams"]
    assert len(failed) == 1 and "no Teams conversation reference" in failed[0]["last_error"]

    posted = len(teams.connector.sent)
    await drain_once(outbox, teams.runtime.delivery)  # delivered ones are not sent again
    assert [s.text for s in teams.connector.sent[posted:] if s.text != "To a chat we never saw."] == []
