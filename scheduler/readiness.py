"""The doctor's review-cadence line: when the weekly digest goes out, and where. Pure."""

from __future__ import annotations

from escalation.readiness import Check, failed, passed
from scheduler.digest.weeks import parse_schedule


def digest_check(schedule: str, *, zone: str, channels: list[str]) -> Check:
    """`channels`: where the digest is posted, one description per platform (empty: nowhere)."""
    day, hour, minute = parse_schedule(schedule)
    cadence = f"every {day} at {hour:02d}:{minute:02d} {zone}"
    if not channels:
        return failed(
            "digest",
            f"the weekly review is scheduled {cadence} but goes to no channel (it would wait in the outbox)",
            "Set SLACK_DIGEST_CHANNEL (or SLACK_STAFF_CHANNEL) or TEAMS_DIGEST_CONVERSATION for the team leads.",
        )
    return passed("digest", f"{cadence} to {' and '.join(channels)}")
