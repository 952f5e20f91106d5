"""ISO weeks in the configured time zone: the period every digest figure is counted over."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """`2026-W47`; anything else is a ValueError that says what is expected."""
        match = _WEEK.match(text.strip())
        if match is None:
            raise ValueError(f"week must look like 2026-W47, not {text!r}")
        year, week = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise ValueError(f"{year} has no ISO week {week}") from None
        return cls(year, week)

    @classmethod
    def containing(cls, moment: datetime | date) -> IsoWeek:
        year, week, _ = moment.isocalendar()
        return cls(year, week)

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def start(self, zone: ZoneInfo) -> datetime:
        """Local midnight on Monday; a DST change inside the week makes it 167 or 169 hours long."""
        return datetime.combine(self.monday, time(0), tzinfo=zone)

    def end(self, zone: ZoneInfo) -> datetime:
        return (self + 1).start(zone)

    def __add__(self, weeks: int) -> IsoWeek:
        return IsoWeek.containing(self.monday + timedelta(weeks=weeks))

    def __sub__(self, weeks: int) -> IsoWeek:
        return self + (-weeks)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def last_complete_week(moment: datetime, zone: ZoneInfo) -> IsoWeek:
    """The digest posted at `moment` covers the ISO week before the one `moment` falls in."""
    return IsoWeek.containing(moment.astimezone(zone)) - 1


_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NAMES = {name: name[:3] for name in _DAYS} | {name[:3]: name[:3] for name in _DAYS}
_SCHEDULE = re.compile(r"^([a-z]+)\s+(\d{1,2}):(\d{2})$")


def parse_schedule(text: str) -> tuple[str, int, int]:
    """`mon 09:00` → ("mon", 9, 0): a weekday (three letters or the full English name) and a 24-hour time."""
    match = _SCHEDULE.match(text.strip().lower())
    day = _DAY_NAMES.get(match.group(1)) if match else None
    if match is None or day is None:
        raise ValueError(f"must be a weekday and a 24-hour time such as 'mon 09:00', not {text!r}")
    hour, minute = int(match.group(2)), int(match.group(3))
    if hour > 23 or minute > 59:
        raise ValueError(f"{hour:02d}:{minute:02d} is not a time of day; use 00:00 to 23:59")
    return day, hour, minute
