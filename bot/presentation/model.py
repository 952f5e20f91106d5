"""The neutral presentation: what an answer, an approval card, a hand-off card and a notice say, with their fields
and buttons, already worded (`bot.presentation.words`). A renderer per platform lays these out (Block Kit,
Adaptive Card, HTML, a terminal) and adds only its platform's mechanics: markup, limits, action ids.
The weekly digest has its own neutral model, `scheduler.digest.model`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from handlers.models import AnswerPart

__all__ = [
    "Act",
    "Answer",
    "AnswerPart",
    "ApprovalCard",
    "CardButton",
    "Emphasis",
    "Field",
    "HandoffCard",
    "Notice",
    "Outcome",
    "Source",
]


class Act(StrEnum):
    """What a button asks for; each platform maps it to its own action id or verb."""

    APPROVE = "approve"
    APPROVE_WITH_CHANGES = "approve_with_changes"
    DENY = "deny"
    TAKE_OVER = "take_over"
    HAND_BACK = "hand_back"
    CLOSE = "close"
    UNDO = "undo"
    HELPFUL = "helpful"
    NOT_HELPFUL = "not_helpful"
    TALK_TO_HUMAN = "talk_to_human"


class Emphasis(StrEnum):
    NONE = ""
    PRIMARY = "primary"
    DANGER = "danger"


@dataclass(frozen=True)
class CardButton:
    act: Act
    label: str
    target: str  # the approval, hand-off or decision the click is about
    emphasis: Emphasis = Emphasis.NONE


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True)
class Source:
    """A numbered source under an answer: `[1] Returns › Refunds · updated 3 days ago · ⚠ past its review date`."""

    number: int
    title: str  # the document's title and heading path, joined
    url: str | None
    age: str
    stale: bool


@dataclass(frozen=True)
class Answer:
    """What the customer is told. `parts` in reading order (light Markdown, a table row as facts), or only `text`
    for a reply without parts; renderers cut it to their length with `markup.fitted_parts` / `markup.shorten`."""

    conversation_key: str
    text: str
    parts: tuple[AnswerPart, ...]
    sources: tuple[Source, ...]
    buttons: tuple[CardButton, ...]
    decision_id: str | None


@dataclass(frozen=True)
class Outcome:
    """A decided approval: `✅ Approved with changes and done` by whom, when, and the note, result or error."""

    mark: str
    words: str
    decided_by: str | None  # as the platform knows the person (an id or a name); the renderer shows it its way
    when: str | None
    details: tuple[Field, ...]
    bad: bool  # denied, expired or failed


@dataclass(frozen=True)
class ApprovalCard:
    """Everything an approver needs to decide without opening anything, and the outcome once decided."""

    id: str
    title: str  # `Approval needed: refund $30.00`, `Undo: reverse_refund`
    notification: str  # what a notification says about the card
    summary: str  # what the customer was told
    reason: str  # why a human must decide
    customer: str  # who asked, as the platform knows them
    org: str
    workflow: str
    action: str
    inputs: tuple[Field, ...]  # each input and where it came from
    params: str  # the inputs in one line, without their sources (`order_id=A-1, amount_cents=$40.00`)
    risk: str
    confidence: str
    rule: str
    expires_at: datetime
    expires: str
    request_text: str | None  # the customer's words that started the workflow
    decision_id: str | None
    conversation_key: str | None
    conversation_link: str | None
    confirm: str  # the question before Approve runs the action (light Markdown)
    amount: str | None  # the amount an edit starts from (`30.00`); None for actions without one
    proposed_amount: str | None  # `$30.00`
    buttons: tuple[CardButton, ...]
    outcome: Outcome | None  # None while pending

    @property
    def pending(self) -> bool:
        return self.outcome is None


@dataclass(frozen=True)
class HandoffCard:
    id: str
    title: str  # `Hand-off: the customer asked for a person`
    text: str  # the notice that posted it
    org: str
    workflow: str
    assigned_to: str
    state: str  # `claimed`
    claimed_by: str | None
    summary: str | None
    would_have_said: str | None
    conversation_key: str
    conversation_link: str | None
    buttons: tuple[CardButton, ...]

    @property
    def open(self) -> bool:
        return bool(self.buttons)


@dataclass(frozen=True)
class Notice:
    """A note for staff (a reminder, an expiry, a refusal), with the conversation it is about when known."""

    text: str
    conversation_link: str | None = None
