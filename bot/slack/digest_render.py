"""The weekly digest as Slack Block Kit: a pure function of the `Digest`, within Block Kit's limits; its words are
`scheduler.digest.words`."""

from __future__ import annotations

import json
from typing import Any

from scheduler.digest import words
from scheduler.digest.format import kpi_lines, row_summary
from scheduler.digest.model import DEMOTE, EXCEPTION_TITLES, PROMOTE, Breakdown, Digest, ExceptionItem, StageSuggestion
from scheduler.digest.words import EMPTY

MAX_BLOCKS = 50
MAX_TEXT = 3000  # section text
MAX_FIELD = 2000  # each section field
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_BUTTON = 75

Block = dict[str, Any]


def _esc(text: str) -> str:
    """Slack mrkdwn treats these three as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lines(title: str, lines: list[str], *, limit: int = MAX_TEXT) -> str:
    """A bold title and bullet lines, as many as fit, then "…and N more"."""
    text = f"*{_esc(title)}*"
    reserve = len(f"\n{words.more(len(lines))}")
    for shown, line in enumerate(lines):
        candidate = f"{text}\n• {_cut(line, limit // 3)}"
        if len(candidate) + (reserve if shown < len(lines) - 1 else 0) > limit:
            return f"{text}\n{words.more(len(lines) - shown)}"
        text = candidate
    return text


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_TEXT)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text, MAX_TEXT)}]}


def _fields(title: str, fields: list[str]) -> list[Block]:
    """A title section and up to ten fields; the rest are counted, not dropped silently."""
    shown = fields if len(fields) <= MAX_FIELDS else [*fields[: MAX_FIELDS - 1], words.more(len(fields) - 9)]
    return [
        _section(f"*{_esc(title)}*"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": _cut(field, MAX_FIELD)} for field in shown]},
    ]


def _kpis(digest: Digest) -> list[Block]:
    fields = []
    for line in kpi_lines(digest.kpis, digest.previous, minutes_per_ticket=digest.minutes_per_ticket):
        change = f"  {line.change}" if line.change else ""
        fields.append(f"*{_esc(line.label)}*\n{_esc(line.value)}{change}\n_{words.LAST_WEEK}: {_esc(line.previous)}_")
    # a section holds at most MAX_FIELDS fields: the rest (the model endpoint's line) go in a second one
    return [
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": _cut(f, MAX_FIELD)} for f in fields[i : i + MAX_FIELDS]],
        }
        for i in range(0, len(fields), MAX_FIELDS)
    ]


def _breakdown(title: str, rows: tuple[Breakdown, ...]) -> list[Block]:
    return _fields(title, [f"*{_esc(row.name)}*\n{_esc(row_summary(row.kpis))}" for row in rows])


def _exception(item: ExceptionItem) -> str:
    where = " · ".join(_esc(part) for part in (item.workflow, item.org) if part)
    decision = f" — decision `{item.decision_id}`" if item.decision_id and item.decision_id != item.ref else ""
    return f"`{_esc(item.ref)}`{f' ({where})' if where else ''}: {_esc(item.detail)}{decision}"


def _knowledge(digest: Digest) -> list[Block]:
    blocks = []
    if digest.gaps:
        lines = [f"{gap.count}× “{_esc(gap.example)}” ({', '.join(gap.orgs)})" for gap in digest.gaps]
        blocks.append(_section(_lines(words.GAPS, lines)))
    if digest.negative_feedback:
        lines = [
            f"“{_esc(item.question)}”"
            + (f" — _{_esc(item.comment)}_" if item.comment else "")
            + (f" (from {_esc(item.document)})" if item.document else "")
            + f" `{item.decision_id}`"
            for item in digest.negative_feedback
        ]
        blocks.append(_section(_lines(words.counted(words.NEGATIVE_FEEDBACK, len(lines)), lines)))
    if digest.documents:
        lines = [
            f"{_esc(doc.title)}: "
            + (f"{words.past_review(doc.review_by)}, " if doc.stale else "")
            + (_esc(words.owner(doc.owner)) if doc.owner else f"*{words.NO_OWNER}*")
            for doc in digest.documents
        ]
        blocks.append(_section(_lines(words.STALE_DOCUMENTS, lines)))
    return blocks


def _suggestion(item: StageSuggestion, *, verb: str) -> Block:
    promote = verb == PROMOTE
    label = words.move_label(promote=promote, target=item.target)
    text = f"*{_esc(item.workflow)}*: {item.stage} → {item.target}\n" + "\n".join(
        f"• {_esc(reason)}" for reason in item.reasons
    )
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": _cut(text, MAX_TEXT)},
        "accessory": {
            "type": "button",
            "action_id": verb,
            "text": {"type": "plain_text", "text": _cut(label, MAX_BUTTON)},
            "value": json.dumps(item.action_value),
            "style": "primary" if promote else "danger",
            "confirm": {
                "title": {"type": "plain_text", "text": _cut(label, 100)},
                "text": {"type": "plain_text", "text": words.move_question(item.workflow, item.stage, item.target)},
                "confirm": {"type": "plain_text", "text": words.YES},
                "deny": {"type": "plain_text", "text": words.CANCEL},
            },
        },
    }


def _evaluation(digest: Digest) -> list[Block]:
    """The weekly evaluation's figures beside last week's (drift flagged), and promotions scenarios hold back."""
    blocks = []
    if digest.evaluation:
        blocks.append(_section(_lines(words.EVALUATION, [figure.line for figure in digest.evaluation])))
    if digest.held:
        blocks.append(_section(_lines(words.HELD_BACK, list(digest.held))))
    return blocks


def digest_render(digest: Digest) -> list[dict[str, Any]]:
    """Header, KPIs with week-over-week arrows, per-org and per-workflow figures, exceptions with their
    decision ids, knowledge to fix, and Promote/Demote buttons (leads only; the click is checked again)."""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(digest.title, MAX_HEADER)}},
        _context(f"{words.times_in(_esc(digest.zone))} · `supportbot digest --week {digest.week}` for the full text"),
    ]
    if digest.empty:
        blocks.append(_section(f"*{EMPTY}* {words.last_week_conversations(digest.previous.conversations)}"))
    else:
        blocks += _kpis(digest)
        if len(digest.by_org) > 1:
            blocks += _breakdown(words.BY_ORG, digest.by_org)
        if digest.by_workflow:
            blocks += _breakdown(words.BY_WORKFLOW, digest.by_workflow)
    blocks.append({"type": "divider"})
    if digest.exceptions:
        for kind, title in EXCEPTION_TITLES.items():
            items = digest.exceptions_of(kind)
            if items:
                blocks.append(_section(_lines(words.counted(title, len(items)), [_exception(item) for item in items])))
    else:
        blocks.append(_section(f"*{words.NO_EXCEPTIONS}*"))
    blocks += _knowledge(digest)
    blocks += _evaluation(digest)
    suggestions = [(item, PROMOTE) for item in digest.promotions] + [(item, DEMOTE) for item in digest.demotions]
    if suggestions:
        blocks += [{"type": "divider"}, _section(f"*{words.AUTONOMY}* ({words.AUTONOMY_NOTE})")]
        room = MAX_BLOCKS - len(blocks)
        fits = suggestions if len(suggestions) <= room else suggestions[: max(room - 1, 0)]
        blocks += [_suggestion(item, verb=verb) for item, verb in fits]
        if len(fits) < len(suggestions):
            blocks.append(_context(f"{words.more(len(suggestions) - len(fits))}: `supportbot autonomy show`"))
    if len(blocks) > MAX_BLOCKS:  # only with very many exception kinds and sections; keep the head
        blocks = [*blocks[: MAX_BLOCKS - 1], _context(words.more(len(blocks) - MAX_BLOCKS + 1, "sections"))]
    return blocks
