"""Runs the jobs on their triggers, once per slot across replicas, and catches up slots missed while down."""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.date import DateTrigger  # type: ignore[import-untyped]

from scheduler import jobs
from scheduler.digest.weeks import parse_schedule
from scheduler.jobs import JobContext
from scheduler.slots import SlotLedger

log = logging.getLogger(__name__)

Job = Callable[[JobContext], Awaitable[str]]


@dataclass(frozen=True)
class JobSpec:
    id: str
    trigger: Any  # an APScheduler trigger with a time zone
    run: Job
    catch_up: timedelta  # how far back a slot missed while every replica was down is still worth running


def default_jobs(
    zone: tzinfo, *, digest_schedule: str = "mon 09:00", eval_schedule: str | None = None
) -> list[JobSpec]:
    """The standing jobs; with `eval_schedule`, the weekly evaluation too (its figures go into the digest)."""
    day, hour, minute = parse_schedule(digest_schedule)
    evaluation = []
    if eval_schedule is not None:
        eval_day, eval_hour, eval_minute = parse_schedule(eval_schedule)
        trigger = CronTrigger(day_of_week=eval_day, hour=eval_hour, minute=eval_minute, timezone=zone)
        # caught up only within the hour before the digest: a catch-up runs at start-up, and this job is long
        evaluation = [JobSpec("evaluation", trigger, jobs.evaluation, timedelta(hours=1))]
    return [
        *evaluation,
        JobSpec("approvals", CronTrigger(minute="*/5", timezone=zone), jobs.approvals, timedelta(minutes=5)),
        JobSpec("handoff_sla", CronTrigger(minute="*/5", timezone=zone), jobs.handoff_sla, timedelta(minutes=5)),
        JobSpec(
            "knowledge_freshness",
            CronTrigger(hour=8, minute=0, timezone=zone),
            jobs.knowledge_freshness,
            timedelta(days=1),
        ),
        # caught up for six days: a late digest still covers the week it was meant for
        JobSpec(
            "digest",
            CronTrigger(day_of_week=day, hour=hour, minute=minute, timezone=zone),
            jobs.digest,
            timedelta(days=6),
        ),
    ]


MISFIRE_GRACE = timedelta(minutes=5)  # how late APScheduler may still call a job (and how far back _fire looks)


def latest_slot(trigger: Any, now: datetime, *, lookback: timedelta) -> datetime | None:
    """The last slot of the trigger at or before `now`, looking back at most `lookback`.

    Time is stepped and compared in UTC: an autumn day's repeated local hour must neither send the walk
    back in time (stepping `fire + 1 s` in local time returns to the first 02:30 and loops forever) nor
    compare as earlier than it is (aware datetimes of one zone compare by wall time, ignoring fold).
    A job at a fixed hour has one slot at 02:30 on that day, not two: its second 02:30 is the first one's
    slot again, so the ledger runs it once (as cron does). Jobs on every hour keep both passes."""
    zone = trigger.timezone
    end = now.astimezone(UTC)
    fire = trigger.get_next_fire_time(None, (end - lookback).astimezone(zone))
    latest = None
    while fire is not None and fire.astimezone(UTC) <= end:
        latest = _first_of_repeated_wall_time(trigger, fire)
        fire = trigger.get_next_fire_time(fire, (fire.astimezone(UTC) + timedelta(seconds=1)).astimezone(zone))
    return latest


def _first_of_repeated_wall_time(trigger: Any, fire: datetime) -> datetime:
    if fire.fold == 0 or _every_hour(trigger):
        return fire
    first = fire.replace(fold=0)
    if first.astimezone(UTC) == fire.astimezone(UTC):
        return fire  # not a repeated wall time after all
    again = trigger.get_next_fire_time(None, first)
    return first if again is not None and again.astimezone(UTC) == first.astimezone(UTC) else fire


def _every_hour(trigger: Any) -> bool:
    """A cron trigger whose hour is `*` runs through the repeated hour twice; anything else is a fixed time."""
    fields = getattr(trigger, "fields", None)
    if fields is None:
        return True  # not a cron trigger (an interval or a date): real time, no wall-clock slots
    return any(field.name == "hour" and str(field) == "*" for field in fields)


class Scheduler:
    def __init__(
        self,
        specs: list[JobSpec],
        context: JobContext,
        ledger: SlotLedger,
        *,
        zone: tzinfo,
        owner: str | None = None,
        retry_after: timedelta = timedelta(seconds=30),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._specs = {spec.id: spec for spec in specs}
        self._context = context
        self._ledger = ledger
        self._zone = zone
        self._owner = owner or f"{socket.gethostname()}:{id(self):x}"
        self._retry_after = retry_after
        self._clock = clock or (lambda: datetime.now(zone))
        self._aps: AsyncIOScheduler | None = None

    async def run_slot(self, job_id: str, slot: datetime) -> str | None:
        """Run one slot if this replica wins the claim. Returns the job's summary, or None if not run."""
        spec = self._specs[job_id]
        if not await self._ledger.claim(job_id, slot, owner=self._owner):
            return None
        try:
            summary = await spec.run(replace(self._context, source=f"{job_id}:{slot.isoformat()}", slot=slot))
        except Exception as exc:  # a job failure is recorded and retried, never allowed to stop the scheduler
            log.exception("job %s for slot %s failed", job_id, slot)
            if await self._ledger.fail(job_id, slot, error=f"{type(exc).__name__}: {exc}"):
                self._retry(job_id, slot)
            return None
        await self._ledger.finish(job_id, slot, summary=summary)
        log.info("job %s slot %s: %s", job_id, slot, summary)
        return summary

    def _retry(self, job_id: str, slot: datetime) -> None:
        if self._aps is not None:
            self._aps.add_job(self.run_slot, DateTrigger(self._clock() + self._retry_after), args=[job_id, slot])

    async def catch_up(self) -> list[tuple[str, datetime]]:
        """At start-up: run the latest slot of each job if no replica ran it while this one was down."""
        ran = []
        now = self._clock()
        for spec in self._specs.values():
            slot = latest_slot(spec.trigger, now, lookback=spec.catch_up)
            if slot is not None and await self.run_slot(spec.id, slot) is not None:
                ran.append((spec.id, slot))
        return ran

    async def _fire(self, job_id: str) -> None:
        spec = self._specs[job_id]
        # only this job's slots within its catch-up window (plus APScheduler's grace) are worth running;
        # looking back days made every 5-minute job walk ~2,300 trigger times (0.3 s) on the event loop
        slot = latest_slot(spec.trigger, self._clock(), lookback=spec.catch_up + MISFIRE_GRACE)
        if slot is not None:
            await self.run_slot(job_id, slot)

    def start(self) -> None:
        self._aps = AsyncIOScheduler(timezone=self._zone)
        for spec in self._specs.values():
            self._aps.add_job(
                self._fire,
                spec.trigger,
                args=[spec.id],
                id=spec.id,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(MISFIRE_GRACE.total_seconds()),
            )
        self._aps.start()

    def shutdown(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
