"""The weekly digest in Teams: the Adaptive Card posted to the digest conversation (or the staff channel)."""

from __future__ import annotations

import logging

from bot.channels import ChannelStore
from bot.services import Services
from bot.teams.auth import build_adapter
from bot.teams.delivery import PLATFORM, TeamsDelivery, message
from bot.teams.digest_render import digest_render
from bot.teams.references import ReferenceStore
from scheduler.digest.model import Digest
from scheduler.outbox import Outbox

log = logging.getLogger(__name__)


class TeamsDigestPublisher:
    def __init__(self, delivery: TeamsDelivery, *, conversation: str) -> None:
        self._delivery = delivery
        self._conversation = conversation

    @property
    def platform(self) -> str:
        return PLATFORM

    async def publish(self, digest: Digest, *, chart_png: bytes | None) -> str:
        # the chart is left out: as a data URI it would push the card past Teams' ~28 KB limit
        posted = await self._delivery.post_to_staff(
            message(card=digest_render(digest)), conversation=self._conversation
        )
        return posted.activity_id


def teams_digest_publisher(services: Services) -> TeamsDigestPublisher | None:
    """None unless Teams is enabled and a digest (or staff) conversation is set."""
    settings = services.settings
    conversation = settings.teams_digest_conversation or settings.teams_staff_conversation
    if not settings.teams_enabled or not conversation:
        return None
    delivery = TeamsDelivery(
        build_adapter(settings),
        settings,
        references=ReferenceStore(services.pool),
        channels=ChannelStore(services.pool),
        outbox=Outbox(services.pool),
    )
    return TeamsDigestPublisher(delivery, conversation=conversation)
