"""Customers in Slack Connect channels: answers in thread with citations, org scoping, failing closed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack.messages import UNBOUND_REPLY
from handlers.core import SORRY
from tests.adapter.slack.harness import HOME, STAFF_CHANNEL, Rig, blocks_text
from tests.adapter.slack.waiting import settle, thread, until

pytestmark = pytest.mark.integration


async def test_question_is_answered_in_its_thread_with_citations(rig: Rig) -> None:
    ts, response = await rig.message("How do I reset my password?", channel="C0ACME")
    assert response.status == 200
    # the fake is shared by the package's tests: wait for this thread's answer, not any earlier post
    [call] = await thread(rig, "C0ACME", ts)
    text = blocks_text(call)
    # mrkdwn, not Markdown: the steps' bold is Slack's single star, in the blocks and the notification text
    assert call.params["text"].startswith("1. On the sign-in screen, tap or click *Forgot password?*.")
    assert "**" not in text
    assert "https://help.acme.example/accounts/reset-your-password" in text
    assert "updated" in text and "[1]" in text
    for action in ("sb:helpful", "sb:not_helpful", "sb:talk_to_human"):
        assert action in text


async def test_org_b_never_sees_org_a_documents(rig: Rig) -> None:
    question = "Who is our account manager and how do we escalate a P1 incident?"
    globex_ts, _ = await rig.message(question, channel="C0GLOBEX", team="T0GLOBEX")
    acme_ts, _ = await rig.message(question, channel="C0ACME", team="T0ACME")
    await rig.fake.wait_for_async("chat.postMessage", count=2)
    await settle(rig)
    by_thread = {c.params.get("thread_ts"): c for c in rig.fake.calls_to("chat.postMessage")}
    assert "globex" in blocks_text(by_thread[globex_ts])
    acme = blocks_text(by_thread[acme_ts])
    assert "globex" not in acme.lower() and "Daniel Okafor" not in acme


async def test_customer_team_bound_elsewhere_fails_closed(rig: Rig) -> None:
    """A globex user in acme's channel: the two bindings disagree, so nothing from either knowledge base."""
    ts, _ = await rig.message("How do I reset my password?", channel="C0ACME", team="T0GLOBEX")
    replies = await thread(rig, "C0ACME", ts)
    assert [c.params["text"] for c in replies] == [UNBOUND_REPLY]


async def test_unbound_channel_answers_nothing_and_tells_staff_once(rig: Rig) -> None:
    before = len(rig.posts_to(STAFF_CHANNEL))
    first, _ = await rig.message("How do I reset my password?", channel="C0NEW", team="T0NEW")
    second, _ = await rig.message("Hello? What is your refund policy?", channel="C0NEW", team="T0NEW")
    assert [c.params["text"] for c in await thread(rig, "C0NEW", first)] == [UNBOUND_REPLY]
    assert [c.params["text"] for c in await thread(rig, "C0NEW", second)] == [UNBOUND_REPLY]
    staff = rig.posts_to(STAFF_CHANNEL)[before:]
    assert len(staff) == 1
    assert "not connected to a customer org" in blocks_text(staff[0])
    assert "C0NEW" in blocks_text(staff[0])


async def test_slack_retries_never_produce_a_second_reply(rig: Rig) -> None:
    ts, first = await rig.message("Do you ship to Canada?", channel="C0ACME", event_id="EvRETRY1")
    for attempt in (1, 2):
        _, again = await rig.message(
            "Do you ship to Canada?", channel="C0ACME", event_id="EvRETRY1", retry=attempt, ts=ts
        )
        assert again.status == 200
    assert first.status == 200
    assert len(await thread(rig, "C0ACME", ts)) == 1


async def test_a_mention_arriving_as_message_and_app_mention_is_answered_once(rig: Rig) -> None:
    ts, _ = await rig.message("<@U0BOT> how do I reset my password?", channel="C0ACME")
    _, response = await rig.message("<@U0BOT> how do I reset my password?", channel="C0ACME", type="app_mention", ts=ts)
    assert response.status == 200
    assert len(await thread(rig, "C0ACME", ts)) == 1


async def test_edits_deletions_bots_and_joins_are_not_answered(rig: Rig) -> None:
    before = len(rig.fake.calls_to("chat.postMessage"))
    await rig.message("edited", channel="C0ACME", subtype="message_changed")
    await rig.message("gone", channel="C0ACME", subtype="message_deleted")
    await rig.message("beep", channel="C0ACME", bot_id="B0OTHER")
    await rig.message("joined", channel="C0ACME", subtype="channel_join")
    await rig.message("How do I reset my password?", channel=STAFF_CHANNEL, team=HOME, user="U0LEAD")
    _, last = await rig.message("How do I reset my password?", channel="C0ACME")  # a marker that is answered
    assert last.status == 200
    await rig.fake.wait_for_async("chat.postMessage", count=before + 1)
    await settle(rig)
    assert len(rig.fake.calls_to("chat.postMessage")) == before + 1


async def test_staff_writing_in_the_thread_silences_the_bot(rig: Rig) -> None:
    ts, _ = await rig.message("How do I reset my password?", channel="C0ACME")
    assert len(await thread(rig, "C0ACME", ts)) == 1
    await rig.message("I'll take this one.", channel="C0ACME", user="U0STAFF", team=HOME, thread_ts=ts)
    await settle(rig)
    await rig.message("Thanks! Also, do you ship to Canada?", channel="C0ACME", thread_ts=ts)
    await settle(rig)
    assert len(await thread(rig, "C0ACME", ts)) == 1


async def test_a_file_share_is_answered_not_ignored(rig: Rig) -> None:
    ts, _ = await rig.message(
        "How do I reset my password?", channel="C0ACME", subtype="file_share", files=[{"name": "screenshot.png"}]
    )
    assert len(await thread(rig, "C0ACME", ts)) == 1


async def test_when_the_turn_fails_the_customer_is_told_and_a_person_is_asked(rig: Rig) -> None:
    rig.runner.timeout = 0.0  # every turn "times out"
    try:
        staff_before = len(rig.posts_to(STAFF_CHANNEL))
        ts, _ = await rig.message("How do I reset my password?", channel="C0ACME")
        [reply] = await thread(rig, "C0ACME", ts)
        assert reply.params["text"] == SORRY
        await rig.fake.wait_for_async("chat.postMessage", count=len(rig.fake.calls_to("chat.postMessage")))
        staff = rig.posts_to(STAFF_CHANNEL)[staff_before:]
        assert staff and "took too long" in blocks_text(staff[-1])
    finally:
        rig.runner.timeout = 60.0


async def test_rate_limited_posts_are_retried_and_arrive(rig: Rig) -> None:
    rig.fake.fail_next("chat.postMessage", status=429, retry_after=1)
    ts, _ = await rig.message("How do I reset my password?", channel="C0ACME")
    [reply] = await thread(rig, "C0ACME", ts, timeout=10)
    assert "password" in reply.params["text"].lower()
    assert any(c.status == 429 for c in rig.fake.calls_to("chat.postMessage"))


async def test_a_post_slack_keeps_refusing_is_recorded_then_delivered_by_the_drain(rig: Rig) -> None:
    rig.fake.fail_next("chat.postMessage", status=500, times=3)  # the first try and both retries
    ts, _ = await rig.message("How do I reset my password?", channel="C0ACME")
    owed = await _wait_owed(rig)
    assert owed["kind"] == "reply" and owed["conversation_key"] == f"slack:C0ACME:{ts}"
    assert "500" in json.dumps(owed["payload"]) or "error" in owed["payload"]
    assert await rig.adapter.drain.drain_once() >= 1
    assert len(await thread(rig, "C0ACME", ts)) == 1
    assert await rig.adapter.outbox.undelivered("slack") == []


async def _wait_owed(rig: Rig) -> dict[str, Any]:
    owed = await until(lambda: rig.adapter.outbox.undelivered("slack"), timeout=10)
    assert owed, "nothing was recorded in the outbox"
    return dict(owed[0])


async def test_an_event_without_the_authors_team_asks_slack_who_they_are(rig: Rig) -> None:
    """Never the envelope's team (ours): a guest from globex stays a customer, scoped to globex."""
    rig.fake.users["U0GUEST"] = {"team_id": "T0GLOBEX"}
    ts, _ = await rig.message(
        "Who is our account manager and how do we escalate a P1 incident?", channel="C0GLOBEX", user="U0GUEST", team=""
    )
    [answer] = await thread(rig, "C0GLOBEX", ts)
    assert "globex" in blocks_text(answer)
    assert any(c.params.get("user") == "U0GUEST" for c in rig.fake.calls_to("users.info"))


class _BrokenBindings:
    """A channel store whose database is gone."""

    async def org_for(self, platform: str, channel_id: str) -> str | None:
        raise TimeoutError("couldn't get a connection after 10.00 sec")

    async def first_time(self, platform: str, key: str) -> bool:
        return True


async def test_a_failure_before_the_turn_still_ends_in_a_reply(rig: Rig) -> None:
    """E.g. the pool exhausted while looking up the channel's org: the customer still hears from us."""
    messages = rig.adapter.messages
    working, messages._channels = messages._channels, _BrokenBindings()  # type: ignore[assignment]
    try:
        ts, _ = await rig.message("How do I reset my password?", channel="C0ACME")
        [reply] = await thread(rig, "C0ACME", ts)
    finally:
        messages._channels = working
    assert reply.params["text"] == SORRY
