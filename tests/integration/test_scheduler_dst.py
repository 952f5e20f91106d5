"""Our slots across daylight saving: the scheduler, its clock and the (job, slot) ledger, minute by minute.

A job at 02:30 Europe/Berlin runs exactly once on the spring-forward day (02:30 never happens: it runs at
03:30 CEST, 01:30 UTC) and exactly once on the autumn day (02:30 happens twice: it runs at the first, CEST);
a job every five minutes runs every five real minutes through both. Each simulated minute calls what
APScheduler calls when a trigger fires, and every half hour a replica starts and catches up, so a slot that
could be computed twice would be run twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from scheduler.jobs import JobContext
from scheduler.outbox import Outbox
from scheduler.runner import JobSpec, Scheduler
from scheduler.slots import SlotLedger
from tests.integration.escalation_fixtures import Rig, rig

pytestmark = pytest.mark.integration
__all__ = ["rig"]
BERLIN = ZoneInfo("Europe/Berlin")
SPRING, AUTUMN = datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)  # the 2026 changes


@pytest.fixture
async def ctx(rig: Rig) -> AsyncIterator[JobContext]:
    async with rig.services.pool.connection() as conn:
        await conn.execute("TRUNCATE job_runs, outbox CASCADE")
    yield JobContext(rig.escalation, rig.services.store, Outbox(rig.services.pool))


async def drive(spec: JobSpec, ctx: JobContext, rig: Rig, *, start: datetime, hours: int, step: int) -> list[datetime]:
    """Run the scheduler's clock from `start` for `hours`; the slots the job ran, in UTC, in order."""
    ran: list[datetime] = []

    async def job(context: JobContext) -> str:
        assert context.slot is not None
        ran.append(context.slot.astimezone(UTC))
        return "ran"

    spec = JobSpec(spec.id, spec.trigger, job, spec.catch_up)
    now = [start.astimezone(BERLIN)]
    scheduler = Scheduler([spec], ctx, SlotLedger(rig.services.pool), zone=BERLIN, owner="a", clock=lambda: now[0])
    for minute in range(0, hours * 60, step):
        now[0] = (start + timedelta(minutes=minute)).astimezone(BERLIN)  # the local clock, fold included
        if minute % 30 == 0:
            await Scheduler(
                [spec], ctx, SlotLedger(rig.services.pool), zone=BERLIN, owner=f"restart-{minute}", clock=lambda: now[0]
            ).catch_up()
        await scheduler._fire(spec.id)  # what APScheduler calls when the trigger fires
    runs = await SlotLedger(rig.services.pool).runs(job=spec.id)
    assert [run.slot.astimezone(UTC) for run in runs] == ran  # the ledger agrees with what ran
    return ran


def at_half_past_two() -> JobSpec:
    return JobSpec("nightly", CronTrigger(hour=2, minute=30, timezone=BERLIN), _unused, timedelta(days=1))


async def _unused(context: JobContext) -> str:
    raise AssertionError("replaced by drive()")


async def test_the_spring_forward_day_runs_the_0230_slot_once(ctx: JobContext, rig: Rig) -> None:
    # 23:00 the evening before until 06:00 CEST: 02:00-03:00 local does not exist
    ran = await drive(at_half_past_two(), ctx, rig, start=SPRING - timedelta(hours=1), hours=5, step=1)
    # the day before's slot is caught up when the first replica starts, then the day's slot once
    assert ran == [datetime(2026, 3, 28, 1, 30, tzinfo=UTC), datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]
    assert ran[1].astimezone(BERLIN).strftime("%H:%M %Z") == "03:30 CEST"  # an hour after the missing 02:30


async def test_the_autumn_day_runs_the_0230_slot_once_though_0230_comes_twice(ctx: JobContext, rig: Rig) -> None:
    # 01:00 CEST until 04:00 CET: 02:00-03:00 local happens twice
    ran = await drive(at_half_past_two(), ctx, rig, start=AUTUMN - timedelta(hours=1), hours=5, step=1)
    assert ran == [datetime(2026, 10, 24, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]
    assert ran[1].astimezone(BERLIN).strftime("%H:%M %Z") == "02:30 CEST"  # the first 02:30


@pytest.mark.parametrize("day", [SPRING, AUTUMN], ids=["spring", "autumn"])
async def test_a_five_minute_job_runs_every_five_real_minutes_through_the_change(
    ctx: JobContext, rig: Rig, day: datetime
) -> None:
    spec = JobSpec("every5", CronTrigger(minute="*/5", timezone=BERLIN), _unused, timedelta(minutes=5))
    ran = await drive(spec, ctx, rig, start=day, hours=3, step=5)
    assert ran == [day + timedelta(minutes=5 * i) for i in range(36)]
