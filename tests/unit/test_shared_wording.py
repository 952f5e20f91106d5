"""One wording on every platform: an approval's state, a card's buttons, a hand-off's state and a source's age read
the same in Slack's Block Kit, Teams' Adaptive Card and the playground's HTML, because each comes from
`bot.presentation` and the renderers only add markup."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.cli import render as terminal
from bot.presentation import words
from bot.presentation.answer import answer_view
from bot.presentation.approval import CardContext, approval_card
from bot.presentation.handoff import handoff_card
from bot.slack import render as slack
from bot.slack.digest_render import digest_render as slack_digest
from bot.teams import render as teams
from bot.teams.digest_render import digest_render as teams_digest
from bot.web import render as web
from escalation.models import ApprovalState, Handoff, HandoffState
from handlers.models import ActionKind, Button, Citation, Reply
from scheduler.digest import words as digest_words
from scheduler.digest.render import sections
from tests.unit.test_digest_render import digest
from tests.unit.test_input_sources_shown import approval

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
PARAMS = {"order_id": "A-10231", "amount_cents": 4000}
PENDING = approval(params=PARAMS, proposed_params=PARAMS, requested_by="U0CUST", input_sources={})
DECIDED = {"decided_by": "Lena Lead", "decided_at": NOW + timedelta(minutes=5)}
STATES = {
    "running": dict(state=ApprovalState.EXECUTING, **DECIDED),
    "done": dict(state=ApprovalState.EXECUTED, result={"summary": "Refunded $40.00"}, **DECIDED),
    "done with changes": dict(
        state=ApprovalState.EXECUTED,
        edited=True,
        params={**PARAMS, "amount_cents": 3500},
        decision_note="one plug only",
        result={"summary": "Refunded $35.00"},
        **DECIDED,
    ),
    "failed": dict(state=ApprovalState.FAILED, last_error="the payment service said no", **DECIDED),
    "denied": dict(state=ApprovalState.DENIED, decision_note="already refunded", **DECIDED),
    "expired": dict(state=ApprovalState.EXPIRED, decided_at=NOW + timedelta(hours=24)),
    "rolled back": dict(state=ApprovalState.ROLLED_BACK, **DECIDED),
}
EXPECTED = {
    "running": "⏳ Approved, running by Lena Lead at 2026-11-29 09:05 UTC",
    "done": "✅ Approved and done by Lena Lead at 2026-11-29 09:05 UTC",
    "done with changes": "✅ Approved with changes and done by Lena Lead at 2026-11-29 09:05 UTC",
    "failed": "⚠️ Approved, but the action failed by Lena Lead at 2026-11-29 09:05 UTC",
    "denied": "❌ Denied by Lena Lead at 2026-11-29 09:05 UTC",
    "expired": "⌛ Expired unanswered at 2026-11-30 09:00 UTC",
    "rolled back": "↩️ Done, then undone by Lena Lead at 2026-11-29 09:05 UTC",
}


def _teams_lines(card: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for item in card["body"]:
        if item["type"] == "TextBlock":
            lines += [line for line in item["text"].split("\n\n") if line]
        elif item["type"] == "FactSet":
            lines += [f"{fact['title']}: {fact['value']}" for fact in item["facts"]]
    return lines


def _web_text(view: dict[str, Any]) -> str:
    outcome = view["outcome"]
    return f"{outcome.mark} {outcome.words}{words.by(outcome.decided_by)}{words.at(outcome.when)}"


@pytest.mark.parametrize("name", sorted(STATES))
def test_an_approval_state_reads_the_same_in_slack_teams_and_the_playground(name: str) -> None:
    card = approval_card(dataclasses.replace(PENDING, **STATES[name]), CardContext(reason="policy"))
    slack_outcome = slack.approval_card(card)[-1]["text"]["text"]
    assert slack_outcome.splitlines()[0].replace("*", "") == EXPECTED[name]
    assert EXPECTED[name] in _teams_lines(teams.approval_card(card))
    assert _web_text(web.approval_view(card)) == EXPECTED[name]
    for detail in card.outcome.details if card.outcome else ():
        line = f"{detail.label}: {detail.value}"
        assert line in slack_outcome.splitlines() and line in _teams_lines(teams.approval_card(card))


def test_the_details_of_an_outcome_are_worded_once() -> None:
    changed = approval_card(dataclasses.replace(PENDING, **STATES["done with changes"]), CardContext(reason="p"))
    assert changed.outcome is not None
    assert [(d.label, d.value) for d in changed.outcome.details] == [
        ("Note", "one plug only"),
        ("Result", "Refunded $35.00"),
    ]
    failed = approval_card(dataclasses.replace(PENDING, **STATES["failed"]), CardContext(reason="p"))
    assert failed.outcome is not None and failed.outcome.bad
    assert [(d.label, d.value) for d in failed.outcome.details] == [("Error", "the payment service said no")]


def test_a_pending_card_has_the_same_title_and_buttons_everywhere() -> None:
    card = approval_card(PENDING, CardContext(reason="policy", summary="Refund $40.00 for A-10231?"))
    labels = ["Approve", "Approve with changes", "Deny", "Take over"]
    slack_blocks = slack.approval_card(card)
    assert slack_blocks[0]["text"]["text"] == "Approval needed: refund $40.00"
    assert [element["text"]["text"] for element in slack_blocks[-1]["elements"]] == labels
    teams_card = teams.approval_card(card)
    assert teams_card["body"][0]["text"] == "Approval needed: refund $40.00"
    assert [action["title"] for action in teams_card["actions"]] == labels
    assert web.approval_view(card)["title"] == "Approval needed: refund $40.00"
    assert "Approval needed: refund $40.00 (apr_1)" in terminal.approval_lines(card)[0]
    assert "Why a human: policy" in _teams_lines(teams_card) and "Why a human: policy" in json.dumps(slack_blocks)


def test_a_claimed_handoff_reads_the_same_in_slack_teams_and_the_playground() -> None:
    handoff = Handoff(
        id="hnd_1",
        org=None,
        conversation_key="teams:a:1",
        workflow=None,
        reason="the customer asked for a person",
        summary="Customer asked for a person",
        would_have_said=None,
        links=[],
        approval_id=None,
        decision_id="dec_1",
        state=HandoffState.CLAIMED,
        level=0,
        assigned_to=None,
        claimed_by="aad-sam",
        created_at=NOW,
    )
    card = handoff_card(handoff, text="A customer needs a person.", claimed_by="Sam Staff")
    slack_blocks = slack.handoff_card(card)
    assert slack_blocks[0]["text"]["text"] == "Hand-off: the customer asked for a person"
    assert "*State*\nclaimed by Sam Staff" in json.dumps(slack_blocks, ensure_ascii=False).replace("\\n", "\n")
    teams_lines = _teams_lines(teams.handoff_card(card))
    assert teams_lines[0] == "Hand-off: the customer asked for a person"
    for line in ("Org: none", "Assigned to: anyone", "State: claimed by Sam Staff"):
        assert line in teams_lines
    facts = dict(web.handoff_view(card)["facts"])
    assert facts == {"Org": "none", "Workflow": "none", "Assigned to": "anyone", "State": "claimed by Sam Staff"}
    assert "Hand-off: the customer asked for a person (hnd_1, Assigned to: anyone)" in terminal.handoff_lines(card)[0]
    assert [b.label for b in card.buttons] == ["Hand back to the bot", "Close"]  # claimed: no Claim button


def test_a_source_says_its_age_and_staleness_alike() -> None:
    stale = Citation(1, "Returns", ("Refunds",), None, NOW - timedelta(days=3), date(2026, 1, 1), True)
    helpful = Button(ActionKind.HELPFUL, "Helpful", "dec_1")
    reply = Reply("slack:C1:1.0", "Refunds take 5 days [1]", "dec_1", (stale,), (helpful,))
    answer = answer_view(reply, now=NOW)
    assert answer.sources[0].age == "updated 3 days ago"
    [source] = answer.sources
    assert slack.citation_line(source) == "[1] Returns › Refunds · updated 3 days ago · ⚠ past its review date"
    assert teams.citation_line(source) == "[1] Returns › Refunds (updated 3 days ago) — **⚠ past its review date**"
    assert web.reply_view(answer)["sources"][0]["age"] == "updated 3 days ago"
    assert terminal.answer_lines(answer)[1] == (
        "     [1] Returns › Refunds — no link (updated 3 days ago) [yellow]⚠ past its review date[/]"
    )
    assert words.age(NOW, now=NOW) == "updated today"
    assert words.age(NOW - timedelta(days=1), now=NOW) == "updated 1 day ago"


def test_a_digest_section_has_one_title_in_text_slack_and_teams() -> None:
    """The digest's words are `scheduler.digest.words`: a section the text shows has the same title in Block Kit
    and in the Adaptive Card (Slack's mrkdwn bold aside)."""
    week = digest()
    slack_text = json.dumps(slack_digest(week), ensure_ascii=False)
    teams_text = json.dumps(teams_digest(week), ensure_ascii=False)
    shown = [
        s.title for s in sections(week) if not s.title.startswith((digest_words.READY, digest_words.QUALITY_DROPPED))
    ]
    assert shown, "the sample digest has sections"
    for title in shown:
        plain = title.split(" (")[0] if title.startswith(digest_words.EVALUATION) else title
        assert plain in slack_text and plain in teams_text, title
    autonomy = f"{digest_words.AUTONOMY} ({digest_words.AUTONOMY_NOTE})"
    assert autonomy in teams_text and autonomy in slack_text.replace("*", "")
