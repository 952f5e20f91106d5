"""An answer in each channel's own format: Slack mrkdwn and fields, Adaptive Card TextBlocks and a FactSet,
plain text in the terminal; each cut to its length at a sentence."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.presentation.answer import answer_view
from bot.presentation.markup import fitted_parts, shorten, to_plain, to_slack, to_teams
from bot.slack.render import ANSWER_LIMIT as SLACK_LIMIT
from bot.slack.render import answer_blocks, reply_text
from bot.teams.render import answer_body
from handlers.models import AnswerPart, Citation, Fact, Reply
from handlers.outbound_codec import decode, encode

ROW = AnswerPart(
    "Code E118 · Meaning: Time sync failed · What to try: Check the router allows NTP (UDP 123)",
    facts=(Fact("Code", "E118"), Fact("Meaning", "Time sync failed"), Fact("What to try", "Check `NTP` (UDP 123)")),
    sources=(1,),
)
CITATION = Citation(1, "Error codes", (), "https://help.example/e", datetime.now(UTC), date(2099, 1, 1), False)


def _answer(*parts: AnswerPart) -> Reply:
    text = "\n\n".join(p.text + "".join(f" [{n}]" for n in p.sources) for p in parts)
    return Reply("C1:1.0", text, "dec_1", (CITATION,), (), parts)


def test_markdown_in_each_dialect() -> None:
    text = "**Free** for *members*: see [the page](https://help.example/a?b=1&c=2) or `Settings` <now>\n- one\n- two"
    assert to_slack(text) == (
        "*Free* for _members_: see <https://help.example/a?b=1&amp;c=2|the page> or `Settings` &lt;now&gt;"
        "\n• one\n• two"
    )
    assert (
        to_teams(text)
        == "**Free** for _members_: see [the page](https://help.example/a?b=1&c=2) or Settings <now>\n- one\n- two"
    )
    assert (
        to_plain(text)
        == "Free for members: see the page (https://help.example/a?b=1&c=2) or Settings <now>\n- one\n- two"
    )
    assert to_slack("order_not_cancellable and E118") == "order_not_cancellable and E118"  # no stray italics


def test_a_table_row_is_fields_in_slack_and_a_factset_in_teams() -> None:
    reply = _answer(ROW, AnswerPart("More in [1]."))
    slack = answer_blocks(answer_view(reply))
    assert [field["text"] for field in slack[0]["fields"]] == [
        "*Code*\nE118",
        "*Meaning*\nTime sync failed",
        "*What to try*\nCheck `NTP` (UDP 123) [1]",
    ]
    assert slack[1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "More in [1]."}]}
    teams = answer_body(answer_view(reply))
    assert teams[0] == {
        "type": "FactSet",
        "facts": [
            {"title": "Code", "value": "E118"},
            {"title": "Meaning", "value": "Time sync failed"},
            {"title": "What to try", "value": "Check NTP (UDP 123) [1]"},
        ],
    }
    assert teams[1]["text"] == "More in [1]." and teams[1]["isSubtle"] is True
    assert "|" not in str(slack) + str(teams)
    assert reply_text(answer_view(reply)).startswith("Code E118 · Meaning: Time sync failed")


def test_a_drafted_answer_without_parts_is_converted_whole() -> None:
    reply = Reply("C1:1.0", "Refunds go to the **original payment method** [1].", "dec_1", (CITATION,))
    assert answer_blocks(answer_view(reply))[0]["text"]["text"] == "Refunds go to the *original payment method* [1]."
    assert answer_body(answer_view(reply))[0]["text"] == "Refunds go to the **original payment method** [1]."


def test_a_long_answer_is_cut_at_a_sentence_and_keeps_its_pointer() -> None:
    sentence = "This sentence is one of many that make the answer far too long for a chat. "
    long_part = AnswerPart(sentence * 60, sources=(1,))
    reply = _answer(long_part, AnswerPart("More in [1]."))
    fitted = fitted_parts(reply, SLACK_LIMIT)
    assert len(fitted[0].text) < SLACK_LIMIT and fitted[0].text.endswith("for a chat. …")
    assert fitted[0].sources == (1,) and fitted[-1].text == "More in [1]."
    blocks = answer_blocks(answer_view(reply))
    assert blocks[0]["text"]["text"].endswith("… [1]") and len(blocks[0]["text"]["text"]) <= 2900
    assert shorten("short", 10) == "short"
    assert shorten("word " * 10, 22) == "word word word word …"  # no sentence end: the last whole word


def test_an_answer_with_parts_survives_the_outbound_record() -> None:
    # a durable turn re-run delivers what was decided: the structured answer included
    reply = _answer(ROW, AnswerPart("More in [1]."))
    assert decode(encode([reply])) == [reply]
