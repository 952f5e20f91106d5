"""Knowledge: documents with owner, review date and freshness; gaps grouped with counts and examples; negative
feedback with the customer's comment and the document the answer came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services import Services
from knowledge.gaps import GapGroup
from knowledge.models import DocumentRecord
from scheduler.digest.queries import DigestQueries, FeedbackRow


@dataclass(frozen=True)
class KnowledgeView:
    documents: list[DocumentRecord]
    gaps: list[GapGroup]
    negative_feedback: list[FeedbackRow]
    since: datetime


async def knowledge_view(services: Services, *, now: datetime, days: int = 28) -> KnowledgeView:
    since = now - timedelta(days=days)
    documents = await services.store.documents()
    gaps = await services.gaps.groups(since=since)
    feedback = await DigestQueries(services.pool).negative_feedback(since, now, org=None)
    feedback.reverse()  # newest first
    return KnowledgeView(documents, gaps, feedback, since)
