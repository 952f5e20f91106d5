"""The overview: this week so far, per workflow, beside last week, with exceptions and the 8-week chart; the
weekly digest's own figures (scheduler/digest/kpis.py) and chart (scheduler/digest/chart.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from bot.services import Services
from scheduler.digest.build import DigestSources, build_digest
from scheduler.digest.chart import render_chart
from scheduler.digest.model import Digest
from scheduler.digest.weeks import IsoWeek


@dataclass(frozen=True)
class Overview:
    digest: Digest  # `kpis` this week so far, `previous` last week, `by_workflow`, `exceptions`, `history`
    chart_png: bytes


async def this_week(services: Services, *, now: datetime) -> Digest:
    zone = services.settings.zone
    week = IsoWeek.containing(now.astimezone(zone))
    # no gap grouping here: it embeds every question, and the knowledge page lists the gaps
    sources = DigestSources.build(services.pool, services.escalation, services.store)
    return await build_digest(
        sources, week, zone=zone, now=now, minutes_per_ticket=services.settings.minutes_per_ticket
    )


async def overview(services: Services, *, now: datetime) -> Overview:
    digest = await this_week(services, now=now)
    chart = await asyncio.to_thread(render_chart, digest)  # matplotlib takes a moment: not on the event loop
    return Overview(digest, chart)
