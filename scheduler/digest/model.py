"""The weekly digest as data: frozen, channel-neutral, JSON-serialisable. Renderers and publishers read it."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from typing import Any, Protocol

from escalation import stage_change
from scheduler.digest.kpis import Kpis

# the verbs of the Promote / Demote buttons, so every rendering of a suggestion reads them from the digest's model
PROMOTE, DEMOTE = stage_change.PROMOTE, stage_change.DEMOTE

# Exception kinds, in the order a lead should read them.
FAILED_ACTION = "failed_action"
BOT_ERROR = "bot_error"
MODEL_ERROR = "model_error"
EXPIRED_APPROVAL = "expired_approval"
UNCLAIMED_HANDOFF = "unclaimed_handoff"
FAILED_DELIVERY = "failed_delivery"
FAILED_JOB = "failed_job"
EXCEPTION_TITLES = {
    FAILED_ACTION: "Failed actions",
    BOT_ERROR: "Bot errors",
    MODEL_ERROR: "Model errors",
    EXPIRED_APPROVAL: "Expired approvals",
    UNCLAIMED_HANDOFF: "Unclaimed hand-offs",
    FAILED_DELIVERY: "Messages not delivered",
    FAILED_JOB: "Failed scheduled jobs",
}


@dataclass(frozen=True)
class Breakdown:
    """One org's or one workflow's figures, with the week before for comparison."""

    name: str
    kpis: Kpis
    previous: Kpis


@dataclass(frozen=True)
class ExceptionItem:
    kind: str
    ref: str  # the approval, hand-off, decision, outbox row or job slot it is about
    at: datetime
    detail: str
    decision_id: str | None = None  # `supportbot explain DECISION_ID` tells the whole story
    workflow: str | None = None
    org: str | None = None


@dataclass(frozen=True)
class GapItem:
    example: str
    count: int
    reasons: dict[str, int]
    orgs: tuple[str, ...]


@dataclass(frozen=True)
class FeedbackItem:
    decision_id: str
    question: str
    at: datetime
    comment: str | None = None
    document: str | None = None
    org: str | None = None


@dataclass(frozen=True)
class DocumentItem:
    title: str
    doc_key: str
    owner: str | None
    review_by: date
    stale: bool
    org: str | None = None


@dataclass(frozen=True)
class StageSuggestion:
    """A workflow a lead may promote (it met its criteria two weeks running) or demote (quality dropped)."""

    workflow: str
    stage: str
    target: str
    reasons: tuple[str, ...]
    org: str | None = None

    @property
    def action_value(self) -> dict[str, str | None]:
        """What a Promote/Demote button carries back: see `escalation.stage_change.change_stage`."""
        return {"workflow": self.workflow, "stage": self.target, "org": self.org}


@dataclass(frozen=True)
class EvalFigure:
    """One stored evaluation figure (scenario pass rate, retrieval recall) beside the week before's."""

    name: str
    value: float
    previous: float | None
    drift: bool  # dropped by more than EVAL_DRIFT_MARGIN
    changes: tuple[str, ...]  # what changed between the two runs (documents, policy, prompts, model)
    ran_at: datetime

    @property
    def line(self) -> str:
        before = f" (last week {self.previous:.3f})" if self.previous is not None else " (no run the week before)"
        text = f"{self.name}: {self.value:.3f}{before}"
        if self.drift:
            text = f"DRIFT: {text}, down {self.previous - self.value:.3f}" if self.previous is not None else text
        if self.changes:
            text += "; since then: " + "; ".join(self.changes)
        return text


@dataclass(frozen=True)
class WeekPoint:
    week: str
    conversations: int
    automation_rate: float | None
    escalation_rate: float | None
    first_pass_quality: float | None


@dataclass(frozen=True)
class Digest:
    week: str  # ISO week, e.g. 2026-W47, in `zone`
    start: datetime
    end: datetime
    zone: str
    org: str | None  # None: every org
    generated_at: datetime
    minutes_per_ticket: float
    kpis: Kpis
    previous: Kpis
    by_org: tuple[Breakdown, ...] = ()
    by_workflow: tuple[Breakdown, ...] = ()
    exceptions: tuple[ExceptionItem, ...] = ()
    gaps: tuple[GapItem, ...] = ()
    negative_feedback: tuple[FeedbackItem, ...] = ()
    documents: tuple[DocumentItem, ...] = ()
    promotions: tuple[StageSuggestion, ...] = ()
    demotions: tuple[StageSuggestion, ...] = ()
    history: tuple[WeekPoint, ...] = field(default=())  # oldest first, ending with this week
    evaluation: tuple[EvalFigure, ...] = ()  # the weekly evaluation's figures, with drift
    held: tuple[str, ...] = ()  # workflows whose promotion failing scenarios hold back, and why

    @property
    def empty(self) -> bool:
        return self.kpis.conversations == 0

    @property
    def title(self) -> str:
        scope = f" for {self.org}" if self.org else ""
        return f"Weekly support digest{scope}: {self.week} ({self.start:%d %b} – {self.last_day:%d %b %Y})"

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.end.date().toordinal() - 1)

    def exceptions_of(self, kind: str) -> list[ExceptionItem]:
        return [item for item in self.exceptions if item.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        plain = _plain(self)
        assert isinstance(plain, dict)
        return plain | {"empty": self.empty, "title": self.title}


def _plain(value: Any) -> Any:
    """JSON-ready: dataclasses to dicts (KPIs with their derived rates), datetimes to ISO 8601."""
    if isinstance(value, Kpis):
        return value.to_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: _plain(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


class DigestPublisher(Protocol):
    """Posts a digest to one chat platform. Implementations live in `bot/` (Slack, Teams)."""

    @property
    def platform(self) -> str:
        """`slack` or `teams`: the outbox delivery platform this publisher stands for."""
        ...

    async def publish(self, digest: Digest, *, chart_png: bytes | None) -> str:
        """Post it; return a reference to the message (Slack ts, Teams activity id) for the log."""
        ...
