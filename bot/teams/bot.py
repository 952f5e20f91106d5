"""The Teams bot: a stored message activity becomes one channel-neutral inbound item; its outbound items rendered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes

from bot.teams.delivery import TeamsDelivery
from bot.teams.interactions import TeamsInteractions
from bot.teams.turns import TurnFacts, clean_text, mentions_bot
from escalation.models import Role
from handlers.models import ApprovalRequest, HandoffNotice, InboundMessage, Outbound, Platform, Unbound
from handlers.turns import ItemKey, PlatformTurn

log = logging.getLogger(__name__)

TYPING_EVERY = 3.0  # Teams shows the indicator for about three seconds
NOT_CONNECTED = (
    "This Microsoft Teams organisation is not connected to our support yet, so I can't answer here. "
    "A person from our team will follow up."
)


class TeamsBot:
    """Teams' front end for the turn queue: a stored message activity is run inside a turn context made for
    it (`process_proactive`), so replies, typing and member look-ups work as in the original request."""

    def __init__(
        self,
        adapter: CloudAdapter,
        app_id: str,
        facts: TurnFacts,
        delivery: TeamsDelivery,
        interactions: TeamsInteractions,
    ) -> None:
        self._adapter = adapter
        self._app_id = app_id
        self._facts = facts
        self._delivery = delivery
        self._interactions = interactions

    async def on_turn(self, context: TurnContext) -> None:
        """Invokes only: messages are stored at the ack and run from the queue."""
        if context.activity.type == ActivityTypes.invoke:
            await self._interactions.handle(context)
        else:
            log.debug("ignoring Teams %s activity", context.activity.type)

    async def open_turn(self, payload: dict[str, Any], body: Callable[[PlatformTurn], Awaitable[None]]) -> None:
        activity = Activity().deserialize(payload)
        failures: list[BaseException] = []

        async def logic(context: TurnContext) -> None:
            turn = TeamsTurn(self, context)
            try:
                await body(turn)
            except Exception as exc:  # the adapter's error handler would swallow it; the queue must see it
                failures.append(exc)
            finally:
                await turn.stop_typing()

        await self._adapter.process_proactive(self._adapter.create_claims_identity(self._app_id), activity, None, logic)
        if failures:
            raise failures[0]

    async def inbound(self, context: TurnContext) -> tuple[InboundMessage | Unbound | None, bool]:
        """The message as the core sees it, and whether a customer wrote it."""
        activity = context.activity
        who = await self._facts.who(context)
        customer = who.actor.role is Role.CUSTOMER
        kind = (activity.conversation.conversation_type or "personal").lower()
        if customer and kind != "personal" and not mentions_bot(activity):
            return None, customer  # in channels and group chats customers address the bot with a mention
        org = await self._facts.org_for(who)
        if customer and org is None:
            tenant = who.home_tenant or who.tenant or "unknown"
            return (
                Unbound(
                    Platform.TEAMS,
                    who.key,
                    place=tenant,
                    reply=NOT_CONNECTED,
                    summary=f"Someone in Microsoft Teams tenant {tenant} wrote to the bot",
                    how_to_bind=f"Bind it with `supportbot channels bind {tenant} ORG --platform teams --by YOU`.",
                    reply_once_per_conversation=False,
                ),
                customer,
            )
        return InboundMessage(Platform.TEAMS, org, who.key, who.actor, clean_text(activity)), customer

    async def deliver(self, item: Outbound, context: TurnContext) -> None:
        await self._delivery.deliver([item], turn=context)

    async def card_posted(self, item: Outbound) -> bool:
        if isinstance(item, ApprovalRequest):
            return await self._delivery.card_exists(item.approval.id)
        if isinstance(item, HandoffNotice):
            return await self._delivery.card_exists(item.handoff.id)
        return False


class TeamsTurn:
    def __init__(self, bot: TeamsBot, context: TurnContext) -> None:
        self._bot = bot
        self._context = context
        self._typing: contextlib.AbstractAsyncContextManager[None] | None = None

    async def inbound(self) -> InboundMessage | Unbound | None:
        found, customer = await self._bot.inbound(self._context)
        if customer and isinstance(found, InboundMessage):
            self._typing = typing(self._context, enabled=True)
            await self._typing.__aenter__()
        return found

    async def deliver(self, item: Outbound, key: ItemKey) -> None:
        await self.stop_typing()
        await self._bot.deliver(item, self._context)

    async def sent_before(self, item: Outbound, key: ItemKey) -> bool:
        """Cards are recorded once posted. A reply cannot be found again in Teams (no message metadata), so
        a crash between sending one and recording it can send it twice: the one at-least-once window."""
        return await self._bot.card_posted(item)

    async def stop_typing(self) -> None:
        if self._typing is not None:
            typing_, self._typing = self._typing, None
            await typing_.__aexit__(None, None, None)


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
