"""The weekly digest as an Adaptive Card 1.5 for Teams: a pure function of the `Digest`; its words are
`scheduler.digest.words`."""

from __future__ import annotations

from typing import Any

from scheduler.digest import words
from scheduler.digest.format import kpi_lines, row_summary
from scheduler.digest.model import DEMOTE, EXCEPTION_TITLES, PROMOTE, Digest, ExceptionItem, StageSuggestion
from scheduler.digest.words import EMPTY

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# Teams rejects cards above about 28 KB; a few lines per list keep the digest well under it.
MAX_LINES = 8

Element = dict[str, Any]


def _text(text: str, **style: Any) -> Element:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _heading(text: str) -> Element:
    return _text(text, weight="Bolder", size="Medium", spacing="Large", separator=True)


def _bullets(lines: list[str]) -> list[Element]:
    shown = [_text(f"- {line}", spacing="Small") for line in lines[:MAX_LINES]]
    if len(lines) > MAX_LINES:
        shown.append(_text(words.more(len(lines) - MAX_LINES), isSubtle=True, spacing="Small"))
    return shown


def _exception(item: ExceptionItem) -> str:
    where = " · ".join(part for part in (item.workflow, item.org) if part)
    decision = f" (decision {item.decision_id})" if item.decision_id and item.decision_id != item.ref else ""
    return f"**{item.ref}**{f' {where}' if where else ''}: {item.detail}{decision}"


def _suggestion(item: StageSuggestion, *, verb: str) -> Element:
    promote = verb == PROMOTE
    return {
        "type": "Container",
        "items": [
            _text(f"**{item.workflow}**: {item.stage} → {item.target}"),
            *(_text(f"- {reason}", spacing="Small", isSubtle=True) for reason in item.reasons),
            {
                "type": "ActionSet",
                "actions": [
                    {
                        "type": "Action.Execute",
                        "title": words.move_label(promote=promote, target=item.target),
                        "verb": verb,
                        "data": dict(item.action_value),
                        "style": "positive" if promote else "destructive",
                    }
                ],
            },
        ],
    }


def _evaluation(digest: Digest) -> list[Element]:
    """The weekly evaluation's figures beside last week's (drift flagged), and promotions scenarios hold back."""
    body: list[Element] = []
    if digest.evaluation:
        body += [_heading(words.EVALUATION), *_bullets([figure.line for figure in digest.evaluation])]
    if digest.held:
        body += [_heading(words.HELD_BACK), *_bullets(list(digest.held))]
    return body


def digest_render(digest: Digest) -> dict[str, Any]:
    """Title, KPI facts with week-over-week change, per-org and per-workflow lines, exceptions with decision ids,
    knowledge to fix, and Promote/Demote (`Action.Execute`, leads only; the click is checked again)."""
    body: list[Element] = [
        _text(digest.title, weight="Bolder", size="Large"),
        _text(f"{words.times_in(digest.zone)}.", isSubtle=True, spacing="None"),
    ]
    if digest.empty:
        body.append(_text(f"**{EMPTY}** {words.last_week_conversations(digest.previous.conversations)}"))
    else:
        facts = [
            {
                "title": line.label,
                "value": f"{line.value}"
                + (f"  {line.change}" if line.change else "")
                + f" ({words.LAST_WEEK} {line.previous})",
            }
            for line in kpi_lines(digest.kpis, digest.previous, minutes_per_ticket=digest.minutes_per_ticket)
        ]
        body.append({"type": "FactSet", "facts": facts})
        if len(digest.by_org) > 1:
            body += [_heading(words.BY_ORG), *_bullets([f"**{r.name}**: {row_summary(r.kpis)}" for r in digest.by_org])]
        if digest.by_workflow:
            rows = [f"**{r.name}**: {row_summary(r.kpis)}" for r in digest.by_workflow]
            body += [_heading(words.BY_WORKFLOW), *_bullets(rows)]
    if not digest.exceptions:
        body.append(_heading(words.NO_EXCEPTIONS))
    for kind, title in EXCEPTION_TITLES.items():
        items = digest.exceptions_of(kind)
        if items:
            body += [_heading(words.counted(title, len(items))), *_bullets([_exception(item) for item in items])]
    if digest.gaps:
        lines = [f"{gap.count}× “{gap.example}” ({', '.join(gap.orgs)})" for gap in digest.gaps]
        body += [_heading(words.GAPS), *_bullets(lines)]
    if digest.negative_feedback:
        lines = [
            f"“{item.question}”" + (f" — {item.comment}" if item.comment else "") + f" ({item.decision_id})"
            for item in digest.negative_feedback
        ]
        body += [_heading(words.counted(words.NEGATIVE_FEEDBACK, len(lines))), *_bullets(lines)]
    if digest.documents:
        lines = [
            f"{doc.title}: "
            + (f"{words.past_review(doc.review_by)}, " if doc.stale else "")
            + (words.owner(doc.owner) if doc.owner else f"**{words.NO_OWNER}**")
            for doc in digest.documents
        ]
        body += [_heading(words.STALE_DOCUMENTS), *_bullets(lines)]
    body += _evaluation(digest)
    if digest.promotions or digest.demotions:
        body.append(_heading(f"{words.AUTONOMY} ({words.AUTONOMY_NOTE})"))
        body += [_suggestion(item, verb=PROMOTE) for item in digest.promotions[:MAX_LINES]]
        body += [_suggestion(item, verb=DEMOTE) for item in digest.demotions[:MAX_LINES]]
    return {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.5", "body": body}
