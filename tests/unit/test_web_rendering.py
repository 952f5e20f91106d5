"""The playground's HTML: answers' light Markdown with everything a customer typed escaped, and an answer's
sources with their age and stale flag."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.presentation.answer import answer_view
from bot.presentation.markup import to_html
from bot.web.render import reply_view
from handlers.models import ActionKind, AnswerPart, Button, Citation, Fact, Reply


def test_markdown_becomes_html_and_nothing_typed_becomes_markup() -> None:
    text = (
        "**Free** for *members*: see [the page](https://help.example/a?b=1&c=2) or `Settings` <img src=x>\n- one\n- two"
    )
    assert str(to_html(text)) == (
        "<strong>Free</strong> for <em>members</em>: see "
        '<a href="https://help.example/a?b=1&amp;c=2" rel="noopener noreferrer">the page</a> or '
        "<code>Settings</code> &lt;img src=x&gt;<br><ul><li>one</li><li>two</li></ul>"
    )
    assert "<script" not in str(to_html("[x](javascript:alert(1)) <script>alert(1)</script>"))
    assert "href" not in str(to_html("[x](javascript:alert(1))"))


def test_an_answer_shows_numbered_sources_with_age_and_stale_flag_and_its_buttons() -> None:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    fresh = Citation(1, "Error codes", ("E1xx",), "https://help.example/e", now, date(2099, 1, 1), False)
    stale = Citation(2, "Returns", (), None, now - timedelta(days=40), date(2026, 1, 1), True)
    row = AnswerPart("E118 · Time sync failed", facts=(Fact("Code", "E118"),), sources=(1,))
    reply = Reply(
        "web:globex:cus_1011:t1",
        "E118 means time sync failed [1]",
        "dec_1",
        (fresh, stale),
        (Button(ActionKind.HELPFUL, "Helpful", "dec_1"),),
        (row, AnswerPart("More in [2].")),
    )
    view = reply_view(answer_view(reply, now=now))
    assert [(s["number"], s["title"], s["age"], s["stale"]) for s in view["sources"]] == [
        (1, "Error codes › E1xx", "updated today", False),
        (2, "Returns", "updated 40 days ago", True),
    ]
    assert view["parts"][0]["facts"] == [("Code", "E118")] and view["parts"][0]["markers"] == "[1]"
    assert view["buttons"] == [{"kind": "helpful", "label": "Helpful", "target": "dec_1"}]
