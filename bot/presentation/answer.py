"""A `Reply` from the core as the neutral `Answer`: its sources worded (title path, age, stale) and its buttons."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.presentation import words
from bot.presentation.model import Act, Answer, CardButton, Source
from handlers.models import Citation, Reply


def source_of(citation: Citation, *, now: datetime) -> Source:
    title = " › ".join((citation.title, *citation.heading_path))
    return Source(citation.number, title, citation.url, words.age(citation.updated_at, now=now), citation.stale)


def answer_view(reply: Reply, *, now: datetime | None = None) -> Answer:
    moment = now or datetime.now(UTC)
    return Answer(
        conversation_key=reply.conversation_key,
        text=reply.text,
        parts=reply.parts,
        sources=tuple(source_of(c, now=moment) for c in reply.citations),
        buttons=tuple(CardButton(Act(b.kind.value), b.label, b.target) for b in reply.buttons),
        decision_id=reply.decision_id,
    )
