"""Customer and staff messages: which are handled, whose org they speak for, and the turn itself.

Fail closed: in a channel no one bound to an org (or where the channel's and the author's org
disagree) nothing from the knowledge base is said; the customer is told a person will follow up,
and staff are told once. Never silent: any failure still ends in a reply and a hand-off.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from bot.channels import ChannelStore
from bot.dedupe import EventDeduper
from bot.slack.identity import SlackDirectory
from bot.slack.sender import PLATFORM, SlackSender, conversation_key
from escalation.models import Actor, Role
from escalation.service import Escalation
from handlers.core import Core
from handlers.models import HandoffNotice, InboundMessage, Platform, Reply

log = logging.getLogger(__name__)

TURN_TIMEOUT_SECONDS = 60.0  # a turn slower than this is a failure: the customer hears from a person instead
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
    def __init__(
        self,
        *,
        core: Core,
        sender: SlackSender,
        directory: SlackDirectory,
        channels: ChannelStore,
        dedupe: EventDeduper,
        escalation: Escalation,
        turn_timeout: float = TURN_TIMEOUT_SECONDS,
        max_turns: int = 8,
    ) -> None:
        self._core = core
        self._sender = sender
        self._directory = directory
        self._channels = channels
        self._dedupe = dedupe
        self._escalation = escalation
        self._turn_timeout = turn_timeout
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # per conversation, with how many use it
        self._slots = asyncio.Semaphore(max_turns)

    async def on_event(self, body: dict[str, Any], event: dict[str, Any], context: SlackContext) -> None:
        """Runs after Bolt has acked; one catch-all so no event ends in silence or a crash."""
        try:
            await self._on_event(body, event, context)
        except Exception:
            log.exception("Slack event %s failed", body.get("event_id"))

    async def _on_event(self, body: dict[str, Any], event: dict[str, Any], context: SlackContext) -> None:
        event_id = str(body.get("event_id") or "")
        if event_id and not await self._dedupe.first_time(event_id):
            log.info("Slack retried event %s; already handled", event_id)
            return
        subtype = event.get("subtype")
        if subtype not in HANDLED_SUBTYPES or event.get("bot_id") or not event.get("user"):
            log.debug("ignoring message subtype=%s bot=%s", subtype, event.get("bot_id"))
            return
        channel, ts = str(event["channel"]), str(event["ts"])
        # a mention in a channel arrives twice (message + app_mention): one answer
        if not await self._dedupe.first_time(f"msg:{channel}:{ts}"):
            return
        if channel == self._sender.staff_channel:
            return  # staff talk among themselves there
        key = conversation_key(channel, str(event.get("thread_ts") or ts))
        # Bounded: under a burst, waiting events hold no database connection, so the turns that run
        # get one instead of timing out. Whatever fails from here on still ends in a reply.
        async with self._slots:
            try:
                await self._handle(event, context, key=key, channel=channel)
            except Exception as exc:
                log.exception("Slack event %s in %s failed", body.get("event_id"), key)
                await self._sender.deliver(await self._core.apologise(key, org=None, reason=_reason(exc)))

    async def _handle(self, event: dict[str, Any], context: SlackContext, *, key: str, channel: str) -> None:
        # never the envelope's team_id: in a shared channel that is our workspace, not the author's
        team = event.get("user_team") or event.get("team") or await self._directory.team_of(str(event["user"]))
        actor = await self._directory.actor(str(event["user"]), team_id=team, installing_team=context.installing_team)
        org = await self.org_for(channel, team if actor.role is Role.CUSTOMER else None)
        if org is None and actor.role is Role.CUSTOMER:
            await self._unbound(key, channel=channel, team=team, actor=actor)
            return
        text = MENTION.sub("", str(event.get("text") or "")).strip()
        files = tuple(str(f.get("name") or f.get("title") or "file") for f in event.get("files") or [])
        await self.turn(InboundMessage(Platform.SLACK, org, key, actor, text, attachments=files))

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

    async def turn(self, inbound: InboundMessage) -> None:
        # Slack delivers events concurrently; turns of one conversation must not interleave (a staff
        # takeover or a workflow's next input depends on the turn before it).
        key = inbound.conversation_key
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                try:
                    items = await asyncio.wait_for(self._core.handle(inbound), self._turn_timeout)
                except Exception as exc:  # the core has its own catch-all; this covers time-outs and outages
                    log.exception("turn in %s failed", key)
                    items = await self._core.apologise(key, org=inbound.org, reason=_reason(exc))
                await self._sender.deliver(items)
        finally:
            lock, users = self._locks[key]
            if users == 1:  # nobody else is waiting on this conversation
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def _unbound(self, key: str, *, channel: str, team: str | None, actor: Actor) -> None:
        if await self._channels.first_time(PLATFORM, f"unbound-thread:{key}"):
            await self._sender.deliver([Reply(key, UNBOUND_REPLY)])
        if await self._channels.first_time(PLATFORM, f"unbound:{channel}:{team}"):
            handoff = await self._escalation.handoffs.create(
                conversation_key=key,
                org=None,
                workflow=None,
                reason="a customer wrote in a channel not connected to an org",
                summary=f"<@{actor.id}> (team {team or 'unknown'}) in <#{channel}>",
            )
            note = (
                f"<#{channel}> is not connected to a customer org, so the bot answered nothing there. "
                f"Connect it with `/support connect ORG` in the channel or `supportbot channels bind {channel} ORG`."
            )
            await self._sender.deliver([HandoffNotice(handoff, note)])


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "the answer took too long"
    return f"an error ({type(exc).__name__})"
