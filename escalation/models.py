"""Shared models of the escalation package; the conversation core builds and reads these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    LEAD = "lead"


class Stage(StrEnum):
    SHADOW = "shadow"
    APPROVE = "approve"
    AUTO = "auto"


# lowest first: a promotion moves a workflow one step up, a demotion one step down
STAGE_LADDER = (Stage.SHADOW, Stage.APPROVE, Stage.AUTO)


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class OutcomeKind(StrEnum):
    ACT = "act"
    NEEDS_APPROVAL = "needs_approval"
    HANDOFF = "handoff"
    REFUSE = "refuse"


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    EXECUTING = "executing"
    EXECUTED = "executed"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    SHADOWED = "shadowed"


class HandoffState(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RETURNED = "returned"
    CLOSED = "closed"


@dataclass(frozen=True)
class Actor:
    """Who did something. `groups` are resolved by the chat platform adapter."""

    id: str
    role: Role
    groups: frozenset[str] = frozenset()
    display_name: str | None = None

    @property
    def label(self) -> str:
        return self.display_name or self.id


SYSTEM = Actor("system", Role.STAFF, display_name="Supportbot")
POLICY_AUTO = "policy:auto"


@dataclass(frozen=True)
class ProposedAction:
    """What the conversation core wants to do, before policy has a say."""

    workflow: str
    action: str
    params: dict[str, Any]
    requested_by: str
    org: str | None = None
    conversation_key: str | None = None
    decision_id: str | None = None
    confidence: float = 1.0
    amount_cents: int | None = None
    customer_tier: str | None = None
    request_text: str | None = None  # the customer message that started the workflow, in their words
    # input name -> where its value came from: "customer" (their text), "model" (filled by a language model
    # and found in the customer's messages), "lookup" (from a back-end lookup); empty when nobody said
    input_sources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyContext:
    """Facts from storage that rules look at; gathered before the pure `evaluate` runs."""

    stage: Stage
    kill_switch: bool = False
    auto_actions_today: int = 0


@dataclass(frozen=True)
class PolicyOutcome:
    kind: OutcomeKind
    rule: str
    reason: str
    inputs: dict[str, Any] = field(default_factory=dict)
    # In the shadow stage the bot never acts: `kind` is HANDOFF and this says what it would have done.
    shadow_of: OutcomeKind | None = None


@dataclass(frozen=True)
class Approval:
    id: str
    kind: str
    workflow: str
    action: str
    params: dict[str, Any]
    proposed_params: dict[str, Any]
    org: str | None
    conversation_key: str | None
    decision_id: str | None
    requested_by: str
    risk: Risk
    rule: str
    state: ApprovalState
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    edited: bool
    expires_at: datetime
    idempotency_key: str
    attempts: int
    last_error: str | None
    result: dict[str, Any] | None
    executed_at: datetime | None
    rollback_of: str | None
    rolled_back_at: datetime | None
    created_at: datetime
    version: int = 1  # bumped by every state change: a card shows a version and never goes back
    request_text: str | None = None
    input_sources: dict[str, str] = field(default_factory=dict)  # as on `ProposedAction`


@dataclass(frozen=True)
class Handoff:
    id: str
    org: str | None
    conversation_key: str
    workflow: str | None
    reason: str
    summary: str
    would_have_said: str | None
    links: list[str]
    approval_id: str | None
    decision_id: str | None
    state: HandoffState
    level: int
    assigned_to: str | None
    claimed_by: str | None
    created_at: datetime
