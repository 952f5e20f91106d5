"""The digest's definitions and renderings, from hand-built rows and digests (no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.slack.digest_render import MAX_BLOCKS
from bot.slack.digest_render import digest_render as digest_blocks
from bot.teams.digest_render import digest_render as digest_card
from scheduler.digest.kpis import Kpis, WeekFacts, compute, percentile, resolution
from scheduler.digest.model import Breakdown, Digest, ExceptionItem, FeedbackItem, GapItem, StageSuggestion, WeekPoint
from scheduler.digest.queries import ConversationRow
from scheduler.digest.render import render_markdown, render_text
from scheduler.digest.weeks import IsoWeek, last_complete_week, parse_schedule

START = datetime(2026, 11, 16, tzinfo=UTC)
END = START + timedelta(days=7)
NOW = Kpis(
    conversations=10,
    resolved=5,
    resolved_without_human=3,
    escalated=4,
    cycle_p50_s=600,
    cycle_p90_s=3024,
    answers=4,
    first_pass_answers=2,
    approved=1,
    approved_with_changes=1,
    denied=1,
    expired=1,
    auto_approved=1,
    approval_p50_s=1800,
    approval_p90_s=3240,
    failed_actions=1,
    rollbacks=1,
    decisions=12,
    tokens=3500,
    cost_usd=0.035,
    rework_hours_avoided=0.6,
)
BEFORE = Kpis(conversations=4, resolved=2, resolved_without_human=2, escalated=1, answers=2, first_pass_answers=2)


def conversation(**changes: object) -> ConversationRow:
    values: dict[str, object] = {
        "key": "s:1",
        "org": "globex",
        "workflow": "answer",
        "first_at": START + timedelta(hours=10),
        "staff_spoke": False,
        "handed_off": False,
        "person_decided": False,
        "human_closed_at": None,
        "last_outcome": "answered",
        "last_at": START + timedelta(hours=10, minutes=1),
        "last_negative": False,
        "last_approval_state": None,
        "last_executed_at": None,
    }
    return ConversationRow(**(values | changes))  # type: ignore[arg-type]


def digest(**changes: object) -> Digest:
    values: dict[str, object] = {
        "week": "2026-W47",
        "start": START,
        "end": END,
        "zone": "Europe/Berlin",
        "org": None,
        "generated_at": END + timedelta(hours=9),
        "minutes_per_ticket": 12.0,
        "kpis": NOW,
        "previous": BEFORE,
        "by_org": (Breakdown("globex", NOW, BEFORE), Breakdown("initech", Kpis(conversations=1), Kpis())),
        "by_workflow": (Breakdown("refund", NOW, BEFORE),),
        "exceptions": (
            ExceptionItem("failed_action", "apr_a2", START + timedelta(days=1), "refund: HTTP 502", "dec_c5", "refund"),
            ExceptionItem("unclaimed_handoff", "hnd_h9", START + timedelta(days=4), "nobody came", "dec_c9"),
        ),
        "gaps": (GapItem("Do you sell gift cards?", 3, {"no_answer": 3}, ("globex",)),),
        "negative_feedback": (FeedbackItem("dec_c3", "How do I reset the hub?", START, "old steps", "Hub reset"),),
        "promotions": (StageSuggestion("cancel_order", "approve", "auto", ("stable",), None),),
        "demotions": (StageSuggestion("refund", "approve", "shadow", ("1 failed action",), None),),
        "history": tuple(WeekPoint(f"2026-W{40 + i}", i, 0.5, 0.2, 0.9) for i in range(8)),
    }
    return Digest(**(values | changes))  # type: ignore[arg-type]


def test_resolution_follows_the_definitions() -> None:
    answered = conversation()
    assert resolution(answered, END) == (answered.last_at, True)
    assert resolution(conversation(last_negative=True), END) == (None, False)
    assert resolution(conversation(handed_off=True), END) == (None, False)  # escalated and not closed
    closed = START + timedelta(days=2)
    assert resolution(conversation(staff_spoke=True, human_closed_at=closed), END) == (closed, False)
    executed = START + timedelta(hours=11)
    approved = conversation(last_outcome="proposed", last_executed_at=executed, person_decided=True)
    assert resolution(approved, END) == (executed, False)  # a person approved: not without a human
    assert resolution(conversation(last_outcome="proposed", last_executed_at=END), END) == (None, False)
    assert resolution(conversation(last_outcome="not_sure"), END) == (None, False)


def test_percentiles_interpolate_like_postgresql() -> None:
    assert percentile([30, 60, 600, 2160, 3600], 0.5) == 600
    assert percentile([30, 60, 600, 2160, 3600], 0.9) == pytest.approx(3024)
    assert percentile([], 0.5) is None
    assert percentile([42], 0.9) == 42


def test_an_empty_week_has_no_rates_and_no_division() -> None:
    kpis = compute(WeekFacts(), end=END, minutes_per_ticket=12)
    assert kpis == Kpis()
    assert (kpis.automation_rate, kpis.escalation_rate, kpis.first_pass_quality, kpis.cost_per_task) == (
        None,
        None,
        None,
        None,
    )


def test_weeks_and_schedules() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert str(IsoWeek.parse("2026-W47")) == "2026-W47" and str(IsoWeek(2027, 1) - 1) == "2026-W53"
    assert last_complete_week(datetime(2026, 11, 23, 9, tzinfo=berlin), berlin) == IsoWeek(2026, 47)
    # 22:30 UTC on Sunday is 23:30 in Berlin: still the week before the current local one
    assert last_complete_week(datetime(2026, 11, 22, 22, 30, tzinfo=UTC), berlin) == IsoWeek(2026, 46)
    with pytest.raises(ValueError, match="2026-W47"):
        IsoWeek.parse("2026-47")
    with pytest.raises(ValueError, match="no ISO week 54"):
        IsoWeek.parse("2026-W54")
    assert parse_schedule("mon 09:00") == ("mon", 9, 0)
    assert parse_schedule("  Friday 7:30 ") == ("fri", 7, 30)
    for bad in ("monday", "mond 09:00", "sun 24:00", "tue 9", "every monday"):
        with pytest.raises(ValueError):
            parse_schedule(bad)


def test_text_and_markdown_show_what_a_lead_acts_on() -> None:
    text = render_text(digest())
    assert text.startswith("Weekly support digest: 2026-W47 (16 Nov – 22 Nov 2026)\nTimes in Europe/Berlin.")
    assert "Resolved without a human                    3 (30%)" in text
    assert "2 (50%) → ▼ 20 pts" in text
    assert "Conversations                               10" in text and "4 → ▲ 6 (+150%)" in text
    assert "Cycle time p50 / p90                        10m / 50m 24s" in text
    assert "Rework hours avoided                        0.6 h (3 × 12 min)" in text
    # exception times are shown in the digest's zone (a UTC midnight is 01:00 in Berlin in November)
    assert "apr_a2 (refund) Tue 17 Nov 01:00: refund: HTTP 502 — explain: supportbot explain dec_c5" in text
    assert '3× "Do you sell gift cards?" (no answer 3; globex)' in text
    assert "refund: approve → shadow (1 failed action). Demote: supportbot autonomy set refund shadow" in text
    markdown = render_markdown(digest())
    assert "| Resolved without a human | 3 (30%) | 2 (50%) | ▼ 20 pts |" in markdown
    assert "## Failed actions (1)" in markdown


def test_empty_digest_text_says_so() -> None:
    text = render_text(digest(kpis=Kpis(), exceptions=(), by_org=(), by_workflow=()))
    assert "No conversations this week, so there are no rates to compare." in text
    assert "Resolved without a human" not in text
    assert "No exceptions this week." in text


def _texts(block: dict[str, object]) -> list[str]:
    found = []
    text = block.get("text")
    if isinstance(text, dict):
        found.append(str(text["text"]))
    for field in block.get("fields", []):  # type: ignore[attr-defined]
        found.append(str(field["text"]))
    return found


def test_slack_blocks_have_arrows_ids_and_buttons() -> None:
    blocks = digest_blocks(digest())
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Weekly support digest: 2026-W47 (16 Nov – 22 Nov 2026)"},
    }
    everything = "\n".join(text for block in blocks for text in _texts(block))
    assert "*Resolved without a human*\n3 (30%)  ▼ 20 pts\n_last week: 2 (50%)_" in everything
    assert "`apr_a2` (refund): refund: HTTP 502 — decision `dec_c5`" in everything
    buttons = [block["accessory"] for block in blocks if "accessory" in block]
    assert [(b["action_id"], json.loads(b["value"]), b["style"]) for b in buttons] == [
        ("digest_promote", {"workflow": "cancel_order", "stage": "auto", "org": None}, "primary"),
        ("digest_demote", {"workflow": "refund", "stage": "shadow", "org": None}, "danger"),
    ]


def test_slack_blocks_stay_within_block_kit_limits() -> None:
    many = digest(
        exceptions=tuple(
            ExceptionItem(kind, f"ref_{kind}_{n}", START, "x" * 300, f"dec_{n}")
            for kind in ("failed_action", "bot_error", "model_error", "expired_approval", "unclaimed_handoff")
            for n in range(40)
        ),
        by_workflow=tuple(Breakdown(f"workflow_{n}", NOW, BEFORE) for n in range(14)),
        demotions=tuple(StageSuggestion(f"w{n}", "auto", "approve", ("r" * 50,)) for n in range(60)),
    )
    blocks = digest_blocks(many)
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        assert all(len(text) <= 3000 for text in _texts(block))
        assert len(block.get("fields", [])) <= 10
    everything = "\n".join(text for block in blocks for text in _texts(block))
    assert "…and 5 more" in everything  # 14 workflows in 10 fields
    assert "more: `supportbot autonomy show`" in json.dumps(blocks, ensure_ascii=False)
    assert any("…and" in text and "more" in text for text in everything.split("*Failed actions (40)*")[1:])


def test_teams_card_is_adaptive_card_1_5_with_execute_actions() -> None:
    card = digest_card(digest())
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.5")
    facts = next(element for element in card["body"] if element["type"] == "FactSet")["facts"]
    assert facts[1] == {"title": "Resolved without a human", "value": "3 (30%)  ▼ 20 pts (last week 2 (50%))"}
    actions = [
        action
        for element in card["body"]
        if element["type"] == "Container"
        for item in element["items"]
        if item["type"] == "ActionSet"
        for action in item["actions"]
    ]
    assert [(a["type"], a["verb"], a["data"]) for a in actions] == [
        ("Action.Execute", "digest_promote", {"workflow": "cancel_order", "stage": "auto", "org": None}),
        ("Action.Execute", "digest_demote", {"workflow": "refund", "stage": "shadow", "org": None}),
    ]
    assert len(json.dumps(card)) < 28_000
    assert "**apr_a2** refund: refund: HTTP 502 (decision dec_c5)" in json.dumps(card, ensure_ascii=False)


def test_to_dict_is_json_with_the_derived_rates() -> None:
    plain = json.loads(json.dumps(digest().to_dict()))
    assert plain["kpis"]["automation_rate"] == 0.3 and plain["previous"]["automation_rate"] == 0.5
    assert plain["start"] == "2026-11-16T00:00:00+00:00" and plain["empty"] is False
    assert plain["exceptions"][0]["decision_id"] == "dec_c5"
    assert plain["promotions"][0]["target"] == "auto"
