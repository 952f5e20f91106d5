"""Customer and staff messages: which are handled, whose org they speak for, and how they reach the queue.

A message event is stored in PostgreSQL (and its turn queued) before Slack gets its ack; a worker runs
the turn later, in this process or another (`handlers.turns`). Fail closed: in a channel no one bound to
an org (or where the channel's and the author's org disagree) nothing from the knowledge base is said.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.channels import ChannelStore
from bot.queue.intake import Intake
from bot.slack.delivery import PLATFORM, SlackDelivery, conversation_key
from bot.slack.identity import SlackDirectory
from escalation.models import Role
from handlers.models import ApprovalRequest, HandoffNotice, InboundMessage, Outbound, Platform, Reply, Unbound
from handlers.turns import ItemKey, PlatformTurn

log = logging.getLogger(__name__)

HANDLED_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
# Deliberately not answered: edits and deletions change what was said, not what was asked (the
# answer already in the thread stays); joins, topic changes and bots are not people asking.
MENTION = re.compile(r"<@[A-Z0-9]+>")
UNBOUND_REPLY = "Thanks for your message. A person from our team will reply here shortly."


@dataclass(frozen=True)
class SlackContext:
    installing_team: str | None
    bot_user_id: str | None


class MessageHandler:
    """Slack's front end for the turn queue: what to store at the ack, and how a stored event is read."""

    def __init__(
        self, *, delivery: SlackDelivery, directory: SlackDirectory, channels: ChannelStore, intake: Intake
    ) -> None:
        self._delivery = delivery
        self._directory = directory
        self._channels = channels
        self._intake = intake

    async def accept(self, body: dict[str, Any], context: SlackContext, *, retry: bool = True) -> bool:
        """Store a message event and queue its turn, before the ack. False when it is not for the bot, or a
        retry or duplicate of one stored before (a mention arrives twice: `message` and `app_mention`, so
        the key is the message, not Slack's event id). Raises when it cannot be stored: Slack retries.
        `retry`: Slack marked the request as a retry (`X-Slack-Retry-Num`); else Redis is not asked."""
        event = body.get("event") or {}
        subtype = event.get("subtype")
        if subtype not in HANDLED_SUBTYPES or event.get("bot_id") or not event.get("user") or not event.get("ts"):
            log.debug("ignoring message subtype=%s bot=%s", subtype, event.get("bot_id"))
            return False
        channel, ts = str(event.get("channel") or ""), str(event["ts"])
        if not channel or channel == self._delivery.staff_channel:
            return False  # staff talk among themselves there
        payload = {"body": body, "installing_team": context.installing_team, "bot_user_id": context.bot_user_id}
        stored = await self._intake.accept(
            f"msg:{channel}:{ts}",
            conversation_key=conversation_key(channel, str(event.get("thread_ts") or ts)),
            payload=payload,
            sent_at=_sent_at(ts),
            retry=retry,
        )
        if not stored:
            log.info("Slack event %s (%s:%s) was stored before; not queued again", body.get("event_id"), channel, ts)
        return stored

    async def open_turn(self, payload: dict[str, Any], body: Callable[[PlatformTurn], Awaitable[None]]) -> None:
        await body(SlackTurn(self, payload))

    async def deliver(self, item: Outbound, key: ItemKey) -> None:
        await self._delivery.deliver([item], tag=_tag(key))

    async def sent_before(self, item: Outbound, key: ItemKey) -> bool:
        """A reply carries its (event, item) as message metadata, so a re-run can look for it in the thread;
        a card is recorded once posted."""
        if isinstance(item, Reply):
            return await self._delivery.tagged_in_thread(item.conversation_key, _tag(key))
        if isinstance(item, ApprovalRequest):
            return await self._channels.card(item.approval.id, PLATFORM) is not None
        if isinstance(item, HandoffNotice):
            return await self._channels.card(item.handoff.id, PLATFORM) is not None
        return False

    async def inbound(self, payload: dict[str, Any]) -> InboundMessage | Unbound | None:
        event = payload["body"]["event"]
        channel, ts = str(event["channel"]), str(event["ts"])
        key = conversation_key(channel, str(event.get("thread_ts") or ts))
        user = str(event["user"])
        # never the envelope's team_id: in a shared channel that is our workspace, not the author's
        team = event.get("user_team") or event.get("team") or await self._directory.team_of(user)
        actor = await self._directory.actor(user, team_id=team, installing_team=payload.get("installing_team"))
        org = await self.org_for(channel, team if actor.role is Role.CUSTOMER else None)
        if org is None and actor.role is Role.CUSTOMER:
            return Unbound(
                Platform.SLACK,
                key,
                place=f"{channel}:{team}",
                reply=UNBOUND_REPLY,
                summary=f"<@{actor.id}> (team {team or 'unknown'}) wrote in <#{channel}>",
                how_to_bind=(
                    f"<#{channel}> is not connected to a customer org. Connect it with `/support connect ORG` "
                    f"in the channel or `supportbot channels bind {channel} ORG`."
                ),
            )
        text = MENTION.sub("", str(event.get("text") or "")).strip()
        files = tuple(str(f.get("name") or f.get("title") or "file") for f in event.get("files") or [])
        return InboundMessage(Platform.SLACK, org, key, actor, text, attachments=files)

    async def org_for(self, channel: str, customer_team: str | None) -> str | None:
        """The channel's org; a customer team bound to a different org closes the channel for them."""
        channel_org = await self._channels.org_for(PLATFORM, channel)
        team_org = await self._channels.org_for(PLATFORM, customer_team) if customer_team else None
        if channel_org and team_org and channel_org != team_org:
            log.warning(
                "channel %s is bound to %s but team %s to %s: answering nothing",
                channel,
                channel_org,
                customer_team,
                team_org,
            )
            return None
        return channel_org or team_org


class SlackTurn:
    def __init__(self, handler: MessageHandler, payload: dict[str, Any]) -> None:
        self._handler = handler
        self._payload = payload

    async def inbound(self) -> InboundMessage | Unbound | None:
        return await self._handler.inbound(self._payload)

    async def deliver(self, item: Outbound, key: ItemKey) -> None:
        await self._handler.deliver(item, key)

    async def sent_before(self, item: Outbound, key: ItemKey) -> bool:
        return await self._handler.sent_before(item, key)


def _sent_at(ts: str) -> datetime | None:
    """A message's `ts` is when Slack received it from the customer: the order of a thread's turns."""
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _tag(key: ItemKey) -> dict[str, Any]:
    return {"event_type": "supportbot_item", "event_payload": {"inbound": key.event_id, "item": key.item}}
