"""The weekly exception digest: `build_digest(sources, week)` gathers one ISO week into a `Digest`,
`scheduler.digest.delivery.deliver` posts it.

`build` is the entry point; `queries` holds every SQL statement, `kpis` the figures computed from its rows,
`sections` the lists (exceptions, knowledge to fix, workflows to promote or demote), `eval` the evaluation
lines, `weeks` the ISO weeks and the schedule; `model` is the digest as data, which `format`, `render` (text,
Markdown) and `chart` (PNG) present and `delivery` posts. The Slack and Teams renderings live in `bot/`.
"""

from scheduler.digest.build import DigestSources, build_digest
from scheduler.digest.kpis import Kpis
from scheduler.digest.model import (
    Breakdown,
    Digest,
    DigestPublisher,
    DocumentItem,
    ExceptionItem,
    FeedbackItem,
    GapItem,
    StageSuggestion,
    WeekPoint,
)
from scheduler.digest.weeks import IsoWeek

__all__ = [
    "Breakdown",
    "Digest",
    "DigestPublisher",
    "DigestSources",
    "DocumentItem",
    "ExceptionItem",
    "FeedbackItem",
    "GapItem",
    "IsoWeek",
    "Kpis",
    "StageSuggestion",
    "WeekPoint",
    "build_digest",
]
