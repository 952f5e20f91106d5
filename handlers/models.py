"""Channel-neutral inbound and outbound items. No chat platform type appears in `handlers/`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from escalation.models import Actor, Approval, Handoff, Role


class Platform(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"
    WEB = "web"
    CLI = "cli"


@dataclass(frozen=True)
class InboundMessage:
    platform: Platform
    org: str | None  # the customer's org; None only for public, org-less conversations
    conversation_key: str  # channel + thread, unique per platform
    author: Actor
    text: str
    attachments: tuple[str, ...] = ()
    # set for a durable inbound event: a re-run of the same event finds the same decision
    decision_id: str | None = None


class ActionKind(StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    UNDO = "undo"
    TAKE_OVER = "take_over"
    HAND_BACK = "hand_back"
    HELPFUL = "helpful"
    NOT_HELPFUL = "not_helpful"
    TALK_TO_HUMAN = "talk_to_human"


@dataclass(frozen=True)
class InboundAction:
    """A button click or command; `target` is an approval, hand-off or decision id."""

    platform: Platform
    org: str | None
    conversation_key: str
    actor: Actor
    kind: ActionKind
    target: str
    value: dict[str, Any] = field(default_factory=dict)  # amount_cents, reason, comment


Inbound = InboundMessage | InboundAction


# how an answer cites passage n: "[n]", one or two digits (the group is n)
CITATION_MARKER = re.compile(r"\[(\d{1,2})\]")


@dataclass(frozen=True)
class Citation:
    number: int
    title: str
    heading_path: tuple[str, ...]
    url: str | None
    updated_at: datetime
    review_by: date
    stale: bool


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class AnswerPart:
    """One piece of an answer, in reading order. `text` is light Markdown (**bold**, *italic*, `code`, links) and
    reads right on its own; `facts` is a table row as label/value pairs for channels that can lay them out;
    `sources` are the citation numbers it came from (shown after it as [n])."""

    text: str
    facts: tuple[Fact, ...] = ()
    sources: tuple[int, ...] = ()


@dataclass(frozen=True)
class Button:
    kind: ActionKind
    label: str
    target: str


@dataclass(frozen=True)
class Reply:
    conversation_key: str
    text: str
    decision_id: str | None = None
    citations: tuple[Citation, ...] = ()
    buttons: tuple[Button, ...] = ()
    # the answer as structured pieces (a table row as facts); `text` says the same for channels that show text
    parts: tuple[AnswerPart, ...] = ()


@dataclass(frozen=True)
class ApprovalRequest:
    """For the staff channel: what is proposed, why it needs a human, and who may decide."""

    approval: Approval
    text: str
    reason: str
    decision_id: str | None


@dataclass(frozen=True)
class HandoffNotice:
    handoff: Handoff
    text: str


@dataclass(frozen=True)
class StaffNote:
    """A private note to staff (never shown to the customer)."""

    conversation_key: str | None
    text: str
    # the approval this click changed, so its card is refreshed; None when the click was refused or lost a race
    changed: str | None = None


Outbound = Reply | ApprovalRequest | HandoffNotice | StaffNote


@dataclass(frozen=True)
class Unbound:
    """A customer wrote somewhere no one bound to an org: nothing from the knowledge base is said (fail
    closed); the customer hears a person will reply and staff get one hand-off per place."""

    platform: Platform
    conversation_key: str
    place: str  # the channel, team or tenant that is not bound
    reply: str
    summary: str  # who wrote where, for staff
    how_to_bind: str
    reply_once_per_conversation: bool = True


STAFF_ROLES = frozenset({Role.STAFF, Role.LEAD})
