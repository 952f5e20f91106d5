"""The digest's entry point: `build_digest(sources, week, ...)` gathers one ISO week into a `Digest`.

Figures are defined in `scheduler.digest.kpis`, lists in `scheduler.digest.sections`, SQL in
`scheduler.digest.queries`; the digest itself is `scheduler.digest.model`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from escalation.autonomy import Autonomy
from escalation.policy import Policy
from escalation.service import Escalation
from handlers.eval_history import EvalHistory
from knowledge.gaps import GapLog
from knowledge.sources import KnowledgeSources
from knowledge.store import KnowledgeStore, Pool
from scheduler.digest import sections
from scheduler.digest.eval import evaluation_figures
from scheduler.digest.kpis import Kpis, WeekFacts, compute
from scheduler.digest.model import Breakdown, Digest, WeekPoint
from scheduler.digest.queries import DigestQueries
from scheduler.digest.weeks import IsoWeek
from scheduler.outbox import Outbox
from scheduler.slots import SlotLedger

log = logging.getLogger(__name__)
HISTORY_WEEKS = 8


@dataclass(frozen=True)
class DigestSources:
    """Everything the digest reads. `gaps` is optional because grouping questions needs the embedder."""

    queries: DigestQueries
    autonomy: Autonomy
    policy: Policy
    knowledge: KnowledgeStore
    outbox: Outbox
    ledger: SlotLedger
    gaps: GapLog | None = None
    evaluations: EvalHistory | None = None
    knowledge_sources: KnowledgeSources | None = None
    drift_margin: float = 0.05

    @classmethod
    def build(
        cls,
        pool: Pool,
        escalation: Escalation,
        knowledge: KnowledgeStore,
        *,
        gaps: GapLog | None = None,
        drift_margin: float = 0.05,
    ) -> DigestSources:
        return cls(
            DigestQueries(pool),
            escalation.autonomy,
            escalation.policy,
            knowledge,
            Outbox(pool),
            SlotLedger(pool),
            gaps,
            EvalHistory(pool),
            KnowledgeSources(pool),
            drift_margin,
        )


async def week_facts(queries: DigestQueries, week: IsoWeek, zone: ZoneInfo, *, org: str | None) -> WeekFacts:
    start, end = week.start(zone), week.end(zone)
    conversations, answers, approvals, costs = await asyncio.gather(
        queries.conversations(start, end, org=org),
        queries.answers(start, end, org=org),
        queries.approvals(start, end, org=org),
        queries.costs(start, end, org=org),
    )
    return WeekFacts(tuple(conversations), tuple(answers), tuple(approvals), tuple(costs))


def _point(week: IsoWeek, kpis: Kpis) -> WeekPoint:
    return WeekPoint(str(week), kpis.conversations, kpis.automation_rate, kpis.escalation_rate, kpis.first_pass_quality)


async def build_digest(
    sources: DigestSources,
    week: IsoWeek,
    *,
    zone: ZoneInfo,
    org: str | None = None,
    minutes_per_ticket: float = 12.0,
    now: datetime | None = None,
    top: int = 10,
) -> Digest:
    """The digest of `week` (in `zone`), for one org or all of them, with the seven weeks before for trends."""
    generated = (now or datetime.now(UTC)).astimezone(zone)
    start, end = week.start(zone), week.end(zone)
    previous_week = week - 1
    weeks = [week - back for back in range(HISTORY_WEEKS - 1, -1, -1)]
    facts = {w: await week_facts(sources.queries, w, zone, org=org) for w in weeks}
    current, before = facts[week], facts[previous_week]

    def figures(
        week_facts: WeekFacts, w: IsoWeek, *, org: str | None = None, workflow: str | None = None, all_orgs: bool = True
    ) -> Kpis:
        return compute(
            week_facts,
            end=w.end(zone),
            minutes_per_ticket=minutes_per_ticket,
            org=org,
            workflow=workflow,
            all_orgs=all_orgs,
        )

    def breakdown(
        name: str, *, org: str | None = None, workflow: str | None = None, all_orgs: bool = True
    ) -> Breakdown:
        return Breakdown(
            name,
            figures(current, week, org=org, workflow=workflow, all_orgs=all_orgs),
            figures(before, previous_week, org=org, workflow=workflow, all_orgs=all_orgs),
        )

    by_org: list[Breakdown] = []
    if org is None:
        orgs = sorted(set(current.orgs()) | set(before.orgs()), key=lambda o: (o is not None, o or ""))
        by_org = [breakdown(name or "no org", org=name, all_orgs=False) for name in orgs]
    workflows = sorted(set(current.workflows()) | set(before.workflows()))
    by_workflow = [breakdown(name, workflow=name) for name in workflows]

    exceptions = await sections.exceptions(
        sources.queries,
        list(current.approvals),
        start=start,
        end=end,
        org=org,
        outbox=sources.outbox,
        ledger=sources.ledger,
    )
    promote, demote, held = await sections.stage_suggestions(
        sources.autonomy, sources.policy, start=start, previous_start=previous_week.start(zone), org=org
    )
    evaluation = []
    if sources.evaluations is not None and sources.knowledge_sources is not None:
        moment = min(generated, end + timedelta(days=1))
        evaluation = await evaluation_figures(
            sources.evaluations, sources.knowledge_sources, now=moment, margin=sources.drift_margin
        )
    digest = Digest(
        week=str(week),
        start=start,
        end=end,
        zone=str(zone),
        org=org,
        generated_at=generated,
        minutes_per_ticket=minutes_per_ticket,
        kpis=figures(current, week),
        previous=figures(before, previous_week),
        by_org=tuple(by_org),
        by_workflow=tuple(by_workflow),
        exceptions=tuple(sorted(exceptions, key=lambda item: item.at)),
        gaps=tuple(await sections.gaps(sources.gaps, start=start, end=end, org=org, top=top)),
        negative_feedback=tuple(await sections.feedback(sources.queries, start=start, end=end, org=org)),
        documents=tuple(await sections.documents(sources.knowledge, org=org, today=generated.date())),
        promotions=tuple(promote),
        demotions=tuple(demote),
        history=tuple(_point(w, figures(facts[w], w)) for w in weeks),
        evaluation=tuple(evaluation),
        held=tuple(held),
    )
    log.info("digest %s%s: %d conversations", digest.week, f" ({org})" if org else "", digest.kpis.conversations)
    return digest
