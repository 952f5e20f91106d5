"""The weekly digest in Slack: Block Kit in the digest channel, with the 8-week chart uploaded beside it."""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.slack.digest_render import digest_render
from scheduler.digest.model import Digest

log = logging.getLogger(__name__)

PLATFORM = "slack"


class SlackDigestPublisher:
    def __init__(self, client: AsyncWebClient, *, channel: str) -> None:
        self._client = client
        self._channel = channel

    @property
    def platform(self) -> str:
        return PLATFORM

    async def publish(self, digest: Digest, *, chart_png: bytes | None) -> str:
        """The post first (it carries the buttons), then the chart in its thread, so a failed upload
        never costs the digest itself."""
        response = await self._client.chat_postMessage(
            channel=self._channel, text=digest.title, blocks=digest_render(digest), unfurl_links=False
        )
        ts = str(response["ts"])
        if chart_png:
            await self._client.files_upload_v2(
                channel=self._channel,
                thread_ts=ts,
                content=chart_png,
                filename=f"supportbot-{digest.week}.png",
                title=f"Last 8 weeks to {digest.week}",
                initial_comment="The main KPIs over the last 8 weeks.",
            )
        return ts


def slack_digest_publisher(services: Services) -> SlackDigestPublisher | None:
    """None unless Slack is configured with a digest (or staff) channel."""
    from bot.slack.app import make_client  # the adapter's client, retries included

    settings = services.settings
    channel = settings.slack_digest_channel or settings.slack_staff_channel
    if not settings.slack_enabled or not channel:
        return None
    return SlackDigestPublisher(make_client(settings), channel=channel)
