"""The Teams bot: one turn in, one channel-neutral inbound item to the core, its outbound items rendered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes

from bot.channels import ChannelStore
from bot.teams.delivery import PLATFORM, TeamsDelivery, conversation_key
from bot.teams.invoke import InvokeHandler
from bot.teams.turns import TurnFacts, Who, clean_text, mentions_bot
from escalation.models import Role
from handlers.core import Core
from handlers.models import InboundMessage, Outbound, Platform, Reply, StaffNote

log = logging.getLogger(__name__)

TYPING_EVERY = 3.0  # Teams shows the indicator for about three seconds
NOT_CONNECTED = (
    "This Microsoft Teams organisation is not connected to our support yet, so I can't answer here. "
    "A person from our team will follow up."
)


class TeamsBot:
    def __init__(
        self, core: Core, facts: TurnFacts, delivery: TeamsDelivery, channels: ChannelStore, invoke: InvokeHandler
    ) -> None:
        self._core = core
        self._facts = facts
        self._delivery = delivery
        self._channels = channels
        self._invoke = invoke

    async def on_turn(self, context: TurnContext) -> None:
        activity = context.activity
        if activity.type == ActivityTypes.message:
            await self._message(context)
        elif activity.type == ActivityTypes.invoke:
            await self._invoke.handle(context)
        else:
            log.debug("ignoring Teams %s activity", activity.type)

    async def _message(self, context: TurnContext) -> None:
        """The catch-all for a message: whatever fails here, the sender is told something true."""
        try:
            await self._answer(context)
        except Exception as exc:
            log.exception("Teams message %s failed", context.activity.id)
            key = conversation_key(getattr(context.activity.conversation, "id", None) or "unknown")
            items = await self._core.apologise(key, org=None, reason=f"an error ({type(exc).__name__})")
            with contextlib.suppress(Exception):  # the connector may be what failed
                await self._delivery.deliver(items, turn=context)

    async def _answer(self, context: TurnContext) -> None:
        activity = context.activity
        who = await self._facts.who(context)
        customer = who.actor.role is Role.CUSTOMER
        kind = (activity.conversation.conversation_type or "personal").lower()
        if customer and kind != "personal" and not mentions_bot(activity):
            return  # in channels and group chats customers address the bot with a mention
        org = await self._facts.org_for(who)
        if customer and org is None:
            await self._not_connected(context, who)
            return
        inbound = InboundMessage(Platform.TEAMS, org, who.key, who.actor, clean_text(activity))
        async with typing(context, enabled=customer):
            outbound = await self._core.handle(inbound)
        await self._delivery.deliver(outbound, turn=context)

    async def _not_connected(self, context: TurnContext, who: Who) -> None:
        """Fail closed: a tenant bound to no org gets no knowledge at all; staff hear about it once."""
        tenant = who.home_tenant or who.tenant or "unknown"
        items: list[Outbound] = [Reply(who.key, NOT_CONNECTED)]
        if await self._channels.first_time(PLATFORM, f"unbound:{tenant}"):
            items.append(
                StaffNote(
                    None,
                    f"Someone in Microsoft Teams tenant {tenant} wrote to the bot, but that tenant is not bound to "
                    f"an org. Bind it with `supportbot channels bind {tenant} ORG --platform teams --by YOU`.",
                )
            )
        await self._delivery.deliver(items, turn=context)


@contextlib.asynccontextmanager
async def typing(context: TurnContext, *, enabled: bool) -> AsyncIterator[None]:
    """Show 'typing…' while the core works, renewed until it is done."""
    if not enabled:
        yield
        return

    async def send_typing() -> None:
        try:
            await context.send_activity(Activity(type=ActivityTypes.typing))
        except Exception as exc:  # a lost indicator is cosmetic
            log.debug("typing indicator failed: %s", exc)

    async def keep_typing() -> None:
        while True:
            await asyncio.sleep(TYPING_EVERY)
            await send_typing()

    await send_typing()

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
