"""The digest's lists: exceptions, knowledge to fix, and workflows to promote or demote."""

from __future__ import annotations

from datetime import date, datetime

from escalation.autonomy import Autonomy, WeekFigures
from escalation.models import STAGE_LADDER
from escalation.policy import Policy, Promotion
from knowledge.gaps import GapLog, GapReason
from knowledge.models import Freshness
from knowledge.store import KnowledgeStore
from scheduler.digest.model import (
    BOT_ERROR,
    EXPIRED_APPROVAL,
    FAILED_ACTION,
    FAILED_DELIVERY,
    FAILED_JOB,
    MODEL_ERROR,
    UNCLAIMED_HANDOFF,
    DocumentItem,
    ExceptionItem,
    FeedbackItem,
    GapItem,
    StageSuggestion,
)
from scheduler.digest.queries import ApprovalRow, DigestQueries
from scheduler.outbox import Outbox
from scheduler.slots import SlotLedger

_UNANSWERED = {GapReason.NO_ANSWER, GapReason.LOW_CONFIDENCE}


async def exceptions(
    queries: DigestQueries,
    approvals: list[ApprovalRow],
    *,
    start: datetime,
    end: datetime,
    org: str | None,
    outbox: Outbox,
    ledger: SlotLedger,
) -> list[ExceptionItem]:
    items = [
        ExceptionItem(
            FAILED_ACTION,
            row.id,
            row.updated_at,
            f"{row.workflow}: {row.last_error or 'the action failed'}",
            row.decision_id,
            row.workflow,
            row.org,
        )
        for row in approvals
        if row.failed_in_week
    ]
    items += [
        ExceptionItem(
            BOT_ERROR if row.outcome == "error" else MODEL_ERROR,
            row.decision_id,
            row.at,
            row.detail or row.outcome,
            row.decision_id,
            row.route,
            row.org,
        )
        for row in await queries.errors(start, end, org=org)
    ]
    items += [
        ExceptionItem(
            EXPIRED_APPROVAL,
            row.id,
            row.expires_at,
            f"{row.workflow} waited from {row.created_at:%a %H:%M} and expired unanswered",
            row.decision_id,
            row.workflow,
            row.org,
        )
        for row in approvals
        if row.expired_in_week
    ]
    items += [
        ExceptionItem(
            UNCLAIMED_HANDOFF,
            row.id,
            row.created_at,
            f"{row.reason}; still unclaimed (level {row.level}, assigned to {row.assigned_to or 'nobody'})",
            row.decision_id,
            row.workflow,
            row.org,
        )
        for row in await queries.unclaimed_handoffs(start, end, org=org)
    ]
    if org is None:  # deliveries and jobs are not any one org's
        items += [
            ExceptionItem(
                FAILED_DELIVERY,
                f"outbox:{row['id']}",
                row["updated_at"],
                f"{row['kind']} to {row['platform']} failed after {row['attempts']} attempt(s): {row['last_error']}",
            )
            for row in await outbox.failures(since=start)
            if row["updated_at"] < end
        ]
        items += [
            ExceptionItem(FAILED_JOB, f"{run.job}:{run.slot.isoformat()}", run.slot, f"{run.job}: {run.error}")
            for run in await ledger.runs(since=start)
            if run.state == "failed" and run.slot < end
        ]
    return items


async def gaps(log: GapLog | None, *, start: datetime, end: datetime, org: str | None, top: int) -> list[GapItem]:
    """Unanswered and low-confidence questions, near-duplicates grouped. Clustering is greedy in time order,
    so dropping the gaps recorded after the week leaves exactly the week's groups."""
    if log is None:
        return []
    found = []
    for group in await log.groups(since=start, org=org):
        inside = [gap for gap in group.gaps if gap.created_at < end and gap.reason in _UNANSWERED]
        if not inside:
            continue
        reasons: dict[str, int] = {}
        for gap in inside:
            reasons[gap.reason.value] = reasons.get(gap.reason.value, 0) + 1
        orgs = tuple(sorted({gap.org or "public" for gap in inside}))
        found.append(GapItem(inside[0].question, len(inside), reasons, orgs))
    return sorted(found, key=lambda item: (-item.count, item.example))[:top]


async def feedback(queries: DigestQueries, *, start: datetime, end: datetime, org: str | None) -> list[FeedbackItem]:
    return [
        FeedbackItem(row.decision_id, row.question, row.at, row.comment, row.document, row.org)
        for row in await queries.negative_feedback(start, end, org=org)
    ]


async def documents(store: KnowledgeStore, *, org: str | None, today: date) -> list[DocumentItem]:
    """Documents past review or with no owner, as of today: what an owner should fix now."""
    return [
        DocumentItem(doc.title, doc.doc_key, doc.owner, doc.review_by, doc.freshness(today) is Freshness.STALE, doc.org)
        for doc in await store.documents(org=org)
        if doc.owner is None or doc.freshness(today) is Freshness.STALE
    ]


def _quality_problems(week: WeekFigures, criteria: Promotion) -> list[str]:
    """Criteria on quality, not volume: a quiet week is no reason to demote. Shares are judged only on as
    many decisions as promotion needs, so one denied request in a quiet week is not called a drift."""
    found = []
    if week.failures > criteria.max_failures:
        found.append(f"{week.failures} failed action{'s' if week.failures != 1 else ''}")
    if week.rollbacks > criteria.max_rollbacks:
        found.append(f"{week.rollbacks} rollback{'s' if week.rollbacks != 1 else ''}")
    if week.decisions < criteria.min_decisions_per_week:
        return found
    if week.denial_share > criteria.max_denial_share:
        found.append(f"{week.denial_share:.0%} denied (max {criteria.max_denial_share:.0%})")
    people = week.approved_unchanged + week.approved_with_changes + week.denied + week.expired
    # in the auto stage policy approves most actions itself; only people's decisions say anything here
    if people and week.unchanged_share < criteria.min_unchanged_share:
        found.append(f"{week.unchanged_share:.0%} approved unchanged (min {criteria.min_unchanged_share:.0%})")
    return found


def _summary(week: WeekFigures) -> str:
    return (
        f"week of {week.start:%d %b}: {week.decisions} decision{'s' if week.decisions != 1 else ''}, "
        f"{week.unchanged_share:.0%} approved unchanged, "
        f"{week.denial_share:.0%} denied, {week.failures} failed, {week.rollbacks} rolled back"
    )


async def stage_suggestions(
    autonomy: Autonomy, policy: Policy, *, start: datetime, previous_start: datetime, org: str | None
) -> tuple[list[StageSuggestion], list[StageSuggestion], list[str]]:
    """(promote, demote, held). Promotion needs both weeks within the workflow's criteria (two stable cycles)
    and its scenarios passing on what runs now; one that met the criteria but whose scenarios fail is held back,
    with the reason. A workflow above shadow whose week breaks a quality criterion is offered a step back."""
    promote, demote, held = [], [], []
    for name, workflow in sorted(policy.workflows.items()):
        if workflow.action is None:
            continue
        stage = await autonomy.stage(name)
        position = STAGE_LADDER.index(stage)
        this_week = await autonomy.week(name, start)
        week_before = await autonomy.week(name, previous_start)
        if position + 1 < len(STAGE_LADDER) and not (
            this_week.problems(workflow.promotion) or week_before.problems(workflow.promotion)
        ):
            if blockers := await autonomy.scenario_blockers(name):
                held.append(f"{name}: {blockers[0]}")
            else:
                stable = (_summary(week_before), _summary(this_week))
                promote.append(StageSuggestion(name, stage.value, STAGE_LADDER[position + 1].value, stable, org))
        drift = _quality_problems(this_week, workflow.promotion)
        if position > 0 and drift:
            dropped = (*drift, f"the week before: {_summary(week_before)}")
            demote.append(StageSuggestion(name, stage.value, STAGE_LADDER[position - 1].value, dropped, org))
    return promote, demote, held
