"""Which chat platforms the weekly digest goes to, chosen from Settings in one place.

Each is a `scheduler.digest.model.DigestPublisher` (`platform` and `async publish(digest, *, chart_png) -> str`).
With neither platform configured the list is empty: `supportbot digest --post` says so, and the
scheduled job keeps the digest in the outbox.
"""

from __future__ import annotations

from dataclasses import replace

from bot.services import Services
from scheduler.digest.model import DigestPublisher
from scheduler.jobs import JobContext

NOT_CONFIGURED = (
    "no Slack or Teams digest channel configured: set SLACK_BOT_TOKEN with SLACK_DIGEST_CHANNEL (or "
    "SLACK_STAFF_CHANNEL), or MICROSOFT_APP_ID with TEAMS_DIGEST_CONVERSATION (or TEAMS_STAFF_CONVERSATION)"
)


def digest_publishers(services: Services) -> list[DigestPublisher]:
    """The publishers for the configured platforms, Slack first."""
    publishers: list[DigestPublisher] = []

    from bot.slack.digest import slack_digest_publisher

    if (slack := slack_digest_publisher(services)) is not None:
        publishers.append(slack)

    # --- Teams: append the Teams digest publisher here when Teams and a digest conversation are configured ---
    from bot.teams.digest import teams_digest_publisher

    if (teams := teams_digest_publisher(services)) is not None:
        publishers.append(teams)

    return publishers


def digest_job_context(services: Services, context: JobContext) -> JobContext:
    """What the scheduled digest job needs beyond the other jobs' context: the pool, the gap log, the
    publishers, the time zone and MINUTES_PER_TICKET. `supportbot run` passes its JobContext through this."""
    return replace(
        context,
        pool=services.pool,
        gaps=services.gaps,
        publishers=tuple(digest_publishers(services)),
        zone=services.settings.zone,
        minutes_per_ticket=services.settings.minutes_per_ticket,
    )
