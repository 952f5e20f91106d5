"""HTML for the neutral presentation in the playground: answers with numbered sources (age, stale flag) and their
buttons, approval and hand-off cards, notes, people's messages.

The views of `bot.presentation.model` become plain template data here; `templates/_post.html` lays them out
with the words of `bot.presentation.words` (the template's `words`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2

from bot.presentation import words
from bot.presentation.markup import fitted_parts, markers, shorten, to_html
from bot.presentation.model import Act, Answer, ApprovalCard, HandoffCard, Notice

ANSWER_LIMIT = 4000  # a pane scrolls; longer answers are cut at a sentence, their sources say where more is
View = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    pane: str  # "customer" or "staff"
    element_id: str  # a card's id stays the same as it changes: the page replaces it
    html: str


def post_html(template: jinja2.Template, view: View, *, csrf: str, element_id: str, explain: str | None) -> str:
    """`explain`: the console's decision page (`/…/{}`) for staff, None for customers."""
    return template.render(post=view, csrf_token=csrf, element_id=element_id, explain=explain)


def message_view(body: dict[str, Any]) -> View:
    """A person's own message, as the page stored it."""
    return {"kind": "message", **body}


def note_view(notice: Notice) -> View:
    return {"kind": "note", "text": notice.text, "conversation": notice.conversation_link}


def reply_view(answer: Answer) -> View:
    if answer.parts:
        parts = [
            {
                "html": to_html(part.text),
                "markers": markers(part).strip(),
                "facts": [(fact.label, fact.value) for fact in part.facts],
            }
            for part in fitted_parts(answer, ANSWER_LIMIT)
        ]
    else:
        parts = [{"html": to_html(shorten(answer.text, ANSWER_LIMIT)), "markers": "", "facts": []}]
    return {
        "kind": "reply",
        "parts": parts,
        "sources": [
            {"number": s.number, "title": s.title, "url": s.url, "age": s.age, "stale": s.stale} for s in answer.sources
        ],
        "buttons": [{"kind": b.act.value, "label": b.label, "target": b.target} for b in answer.buttons],
        "conversation": answer.conversation_key,
        "decision_id": answer.decision_id,
        "not_helpful": Act.NOT_HELPFUL.value,
    }


def approval_view(card: ApprovalCard) -> View:
    acts = {b.act for b in card.buttons}
    return {
        "kind": "approval",
        "id": card.id,
        "title": card.title,
        "facts": [
            (words.CUSTOMER, card.customer),
            (words.ORG, card.org),
            (words.ACTION, f"{card.workflow} → {card.action}"),
            (words.INPUTS, "; ".join(f"{f.label}={f.value}" for f in card.inputs) or words.NONE),
            (words.RISK, card.risk),
            (words.CONFIDENCE, card.confidence),
            (words.RULE, card.rule),
            (words.EXPIRES, card.expires),
        ],
        "request_text": card.request_text,
        "reason": card.reason,
        "decision_id": card.decision_id,
        "conversation": card.conversation_link,
        "pending": card.pending,
        "can_edit": Act.APPROVE_WITH_CHANGES in acts,
        "amount": card.amount or "",
        "can_take_over": Act.TAKE_OVER in acts,
        "outcome": card.outcome,
        "undoable": Act.UNDO in acts,
    }


def handoff_view(card: HandoffCard) -> View:
    acts = {b.act for b in card.buttons}
    return {
        "kind": "handoff",
        "id": card.id,
        "title": card.title,
        "text": card.text,
        "facts": [
            (words.ORG, card.org),
            (words.WORKFLOW, card.workflow),
            (words.ASSIGNED_TO, card.assigned_to),
            (words.STATE, card.state + words.by(card.claimed_by)),
        ],
        "summary": card.summary,
        "would_have_said": card.would_have_said,
        "conversation": card.conversation_link,
        "open": bool(card.buttons),
        "can_claim": Act.TAKE_OVER in acts,
    }
