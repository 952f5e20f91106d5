"""Scheduled jobs: plain idempotent async functions. Each returns a one-line summary for the ledger."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from escalation.formatting import AMOUNT, money
from escalation.service import Escalation
from knowledge.gaps import GapLog
from knowledge.models import Freshness
from knowledge.store import KnowledgeStore, Pool
from scheduler.digest.build import DigestSources, build_digest
from scheduler.digest.delivery import DigestError, deliver
from scheduler.digest.model import DigestPublisher
from scheduler.digest.weeks import last_complete_week
from scheduler.outbox import Outbox

UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class JobContext:
    escalation: Escalation
    knowledge: KnowledgeStore
    outbox: Outbox
    source: str = ""  # job:slot, stamped on every notice
    slot: datetime | None = None  # the scheduled time being run, stamped by the runner
    # the digest job reads through these (bot.publishers.digest_job_context fills them from Settings)
    pool: Pool | None = None
    gaps: GapLog | None = None
    publishers: tuple[DigestPublisher, ...] = ()
    zone: ZoneInfo = UTC_ZONE
    minutes_per_ticket: float = 12.0
    # the weekly evaluation: runs the scenarios and each org's retrieval questions and stores the figures
    # (bot.eval_job fills it; it needs the core, which only bot/ can build); returns a summary line
    evaluate: Callable[[str], Awaitable[str]] | None = None
    drift_margin: float = 0.05


def _amount(params: dict[str, object]) -> str:
    amount = params.get(AMOUNT)
    return f" of {money(amount)}" if isinstance(amount, int) else ""


async def approvals(ctx: JobContext) -> str:
    """Remind approvers before an approval expires; expire the overdue ones and tell the customer."""
    reminded = await ctx.escalation.approvals.remind_due()
    for approval in reminded:
        workflow = ctx.escalation.policy.workflow(approval.workflow)
        await ctx.outbox.add(
            kind="staff_note",
            source=ctx.source,
            recipient=", ".join(workflow.approvers) if workflow else None,
            text=f"Reminder: {approval.workflow}{_amount(approval.params)} ({approval.id}) is waiting for a decision "
            f"and expires at {approval.expires_at:%Y-%m-%d %H:%M} UTC.",
            payload={"approval_id": approval.id},
        )
    expired = await ctx.escalation.expire_due()
    for approval, handoff in expired:
        if approval.conversation_key:
            await ctx.outbox.add(
                kind="reply",
                source=ctx.source,
                conversation_key=approval.conversation_key,
                text="We couldn't get your request approved in time, so a person from our team will follow up here.",
                payload={"approval_id": approval.id},
            )
        await ctx.outbox.add(
            kind="handoff",
            source=ctx.source,
            recipient=handoff.assigned_to,
            conversation_key=handoff.conversation_key,
            text=f"Approval {approval.id} expired unanswered; please take over ({handoff.id}).",
            payload={"handoff_id": handoff.id, "approval_id": approval.id},
        )
    return f"{len(reminded)} reminded, {len(expired)} expired"


async def handoff_sla(ctx: JobContext) -> str:
    """Unclaimed hand-offs past the SLA move up their escalation path."""
    escalated = await ctx.escalation.handoffs.escalate_overdue()
    for handoff in escalated:
        await ctx.outbox.add(
            kind="handoff",
            source=ctx.source,
            recipient=handoff.assigned_to,
            conversation_key=handoff.conversation_key,
            text=f"Nobody has claimed hand-off {handoff.id} ({handoff.reason}); "
            f"it is now yours (level {handoff.level}).",
            payload={"handoff_id": handoff.id, "level": handoff.level},
        )
    return f"{len(escalated)} escalated"


async def knowledge_freshness(ctx: JobContext, *, today: date | None = None) -> str:
    """Tell each owner which of their documents are past review; ownerless ones go to support ops."""
    day = today or date.today()
    stale: dict[str, list[str]] = defaultdict(list)
    for document in await ctx.knowledge.documents():
        if document.freshness(day) is Freshness.STALE:
            stale[document.owner or "unowned"].append(f"{document.title} (review was due {document.review_by})")
    for owner, titles in sorted(stale.items()):
        await ctx.outbox.add(
            kind="staff_note",
            source=ctx.source,
            recipient=owner,
            text=f"{len(titles)} document{'s are' if len(titles) != 1 else ' is'} past review and down-weighted "
            "in answers until updated: " + "; ".join(titles),
            payload={"documents": len(titles)},
        )
    return f"{sum(len(t) for t in stale.values())} stale documents, {len(stale)} owners told"


async def evaluation(ctx: JobContext) -> str:
    """The weekly evaluation, before the digest: its figures are what the digest compares with last week's."""
    if ctx.evaluate is None:
        raise DigestError("the evaluation job needs `evaluate` in its JobContext (bot.eval_job.eval_job_context)")
    return await ctx.evaluate(ctx.source)


async def digest(ctx: JobContext) -> str:
    """The weekly digest of the last complete ISO week before the slot: posted by every publisher and kept in
    the outbox. A replica that catches up a missed Monday later in the week still reports the same week."""
    if ctx.pool is None:
        raise DigestError("the digest job needs a database pool in its JobContext (bot.publishers.digest_job_context)")
    moment = ctx.slot or datetime.now(ctx.zone)
    sources = DigestSources.build(ctx.pool, ctx.escalation, ctx.knowledge, gaps=ctx.gaps, drift_margin=ctx.drift_margin)
    built = await build_digest(
        sources,
        last_complete_week(moment, ctx.zone),
        zone=ctx.zone,
        minutes_per_ticket=ctx.minutes_per_ticket,
        now=moment,
    )
    return await deliver(built, ctx.publishers, queries=sources.queries, source=ctx.source)
