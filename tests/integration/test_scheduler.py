"""Scheduled jobs: once per slot across replicas, missed slots caught up once, DST-safe, failures retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from bot.services import Services
from knowledge.ingest import IngestOptions
from scheduler.jobs import JobContext, approvals, knowledge_freshness
from scheduler.outbox import Outbox
from scheduler.runner import JobSpec, Scheduler, latest_slot
from scheduler.slots import SlotLedger
from tests.integration.escalation_fixtures import Rig, refund, rig
from tests.integration.helpers import write_doc

pytestmark = pytest.mark.integration
__all__ = ["rig"]
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
async def ctx(rig: Rig) -> AsyncIterator[JobContext]:
    async with rig.services.pool.connection() as conn:
        await conn.execute("TRUNCATE job_runs, outbox CASCADE")
    yield JobContext(rig.escalation, rig.services.store, Outbox(rig.services.pool))


def weekly(calls: list[str]) -> JobSpec:
    async def digest(context: JobContext) -> str:
        calls.append(context.source)
        await asyncio.sleep(0.05)  # long enough for racing replicas to overlap
        return "digest sent"

    return JobSpec("weekly", CronTrigger(day_of_week="mon", hour=9, timezone=BERLIN), digest, timedelta(days=7))


def replica(spec: JobSpec, ctx: JobContext, services: Services, name: str, now: datetime) -> Scheduler:
    return Scheduler(
        [spec],
        ctx,
        SlotLedger(services.pool),
        zone=BERLIN,
        owner=name,
        clock=lambda: now,
        retry_after=timedelta(seconds=0),
    )


async def test_two_replicas_run_each_slot_once(ctx: JobContext, rig: Rig) -> None:
    calls: list[str] = []
    spec = weekly(calls)
    now = datetime(2026, 11, 23, 9, 0, 5, tzinfo=BERLIN)
    slot = latest_slot(spec.trigger, now, lookback=timedelta(days=7))
    assert slot == datetime(2026, 11, 23, 9, 0, tzinfo=BERLIN)
    a, b = (replica(spec, ctx, rig.services, name, now) for name in ("replica-a", "replica-b"))
    results = await asyncio.gather(*(r.run_slot("weekly", slot) for r in (a, b, a, b)))
    assert sorted(result or "" for result in results) == ["", "", "", "digest sent"]
    assert calls == [f"weekly:{slot.isoformat()}"]
    [run] = await SlotLedger(rig.services.pool).runs(job="weekly")
    assert (run.state, run.attempts, run.summary) == ("done", 1, "digest sent")


async def test_a_missed_monday_is_caught_up_once(ctx: JobContext, rig: Rig) -> None:
    calls: list[str] = []
    spec = weekly(calls)
    wednesday = datetime(2026, 11, 25, 14, 0, tzinfo=BERLIN)  # every replica was down on Monday
    assert await replica(spec, ctx, rig.services, "a", wednesday).catch_up() == [
        ("weekly", datetime(2026, 11, 23, 9, 0, tzinfo=BERLIN))
    ]
    assert await replica(spec, ctx, rig.services, "b", wednesday).catch_up() == []  # a second start-up
    assert len(calls) == 1
    next_tuesday = datetime(2026, 12, 1, 8, 0, tzinfo=BERLIN)
    assert await replica(spec, ctx, rig.services, "a", next_tuesday).catch_up() == [
        ("weekly", datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN))
    ]


def test_slots_follow_local_time_across_daylight_saving() -> None:
    trigger = CronTrigger(day_of_week="mon", hour=9, timezone=BERLIN)
    before = latest_slot(trigger, datetime(2026, 10, 20, tzinfo=UTC), lookback=timedelta(days=7))
    after = latest_slot(trigger, datetime(2026, 10, 27, tzinfo=UTC), lookback=timedelta(days=7))
    assert before is not None and after is not None
    assert before.astimezone(UTC) == datetime(2026, 10, 19, 7, 0, tzinfo=UTC)  # CEST, UTC+2
    assert after.astimezone(UTC) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # CET, UTC+1 after 25 October
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(days=7, hours=1)  # the clock moved back


async def test_a_failing_job_is_recorded_and_retried_within_its_slot(ctx: JobContext, rig: Rig) -> None:
    attempts: list[int] = []

    async def flaky(context: JobContext) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("digest chart failed")
        return "third time lucky"

    spec = JobSpec("flaky", CronTrigger(hour=8, timezone=BERLIN), flaky, timedelta(days=1))
    now = datetime(2026, 11, 25, 8, 1, tzinfo=BERLIN)
    scheduler = replica(spec, ctx, rig.services, "a", now)
    slot = latest_slot(spec.trigger, now, lookback=timedelta(days=1))
    assert slot is not None
    assert await scheduler.run_slot("flaky", slot) is None
    [failed] = await SlotLedger(rig.services.pool).runs(job="flaky")
    assert (failed.state, failed.attempts, failed.error) == ("failed", 1, "RuntimeError: digest chart failed")
    assert await scheduler.run_slot("flaky", slot) is None
    assert await scheduler.run_slot("flaky", slot) == "third time lucky"
    assert await scheduler.run_slot("flaky", slot) is None  # done: never again
    [done] = await SlotLedger(rig.services.pool).runs(job="flaky")
    assert (done.state, done.attempts) == ("done", 3)


async def test_approval_jobs_remind_expire_and_tell_the_customer(ctx: JobContext, rig: Rig) -> None:
    proposed = await rig.escalation.propose(refund(2500))
    assert proposed.approval is not None
    rig.clock.advance(timedelta(hours=23))
    assert await approvals(ctx) == "1 reminded, 0 expired"
    rig.clock.advance(timedelta(hours=2))
    assert await approvals(ctx) == "0 reminded, 1 expired"
    notices = await ctx.outbox.pending()
    assert [(n["kind"], n["recipient"]) for n in notices] == [
        ("staff_note", "group:support-leads, group:billing"),
        ("reply", None),
        ("handoff", "group:billing"),
    ]
    assert notices[0]["text"].startswith(f"Reminder: refund of $25.00 ({proposed.approval.id}) is waiting")
    assert notices[1]["conversation_key"] == "C1:1700000000.1"


async def test_freshness_tells_each_owner_about_their_stale_documents(
    ctx: JobContext, rig: Rig, tmp_path: object
) -> None:

    folder = Path(str(tmp_path))
    async with rig.services.pool.connection() as conn:
        await conn.execute("TRUNCATE kb_documents, kb_chunks CASCADE")
    write_doc(
        folder, "old.md", "# Old prices\n\nPlus costs $5.99.\n", owner="billing@acme.example", review_by="2026-01-01"
    )
    write_doc(
        folder, "older.md", "# Old promo\n\nUse SUMMER25.\n", owner="billing@acme.example", review_by="2025-08-31"
    )
    write_doc(folder, "orphan.md", "# Orphan\n\nNobody owns this.\n", owner=None, review_by="2026-02-01")
    write_doc(folder, "fresh.md", "# Fresh\n\nAll good.\n", owner="billing@acme.example", review_by="2099-01-01")
    await rig.services.ingestor.ingest([folder], IngestOptions())
    summary = await knowledge_freshness(ctx, today=date(2026, 11, 25))
    assert summary == "3 stale documents, 2 owners told"
    notices = {n["recipient"]: n["text"] for n in await ctx.outbox.pending()}
    assert notices["billing@acme.example"].startswith("2 documents are past review")
    assert "Old prices (review was due 2026-01-01)" in notices["billing@acme.example"]
    assert notices["unowned"].startswith("1 document is past review")
