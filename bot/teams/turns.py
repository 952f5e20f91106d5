"""What every Teams turn needs: the conversation key, the sender as an `Actor`, the customer's org."""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass

import redis.asyncio as aioredis
from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity

from bot.channels import ChannelStore
from bot.teams.delivery import PLATFORM, conversation_key
from bot.teams.identity import Directory
from bot.teams.references import ReferenceStore
from escalation.models import Actor, Role

log = logging.getLogger(__name__)

MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
TENANT_TTL = 24 * 3600  # a user's home tenant does not change; a day bounds the cost of a stale entry


def conversation_tenant(activity: Activity) -> str | None:
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant") if isinstance(data.get("tenant"), dict) else None
    found = (tenant or {}).get("id") or getattr(activity.conversation, "tenant_id", None)
    return str(found).lower() if found else None


def mentions_bot(activity: Activity) -> bool:
    bot_id = activity.recipient.id if activity.recipient else None
    for mention in TurnContext.get_mentions(activity):
        mentioned = (mention.additional_properties or {}).get("mentioned") or {}
        if bot_id and isinstance(mentioned, dict) and mentioned.get("id") == bot_id:
            return True
    return False


def clean_text(activity: Activity) -> str:
    return " ".join(MENTION.sub(" ", activity.text or "").split())


@dataclass(frozen=True)
class Who:
    key: str  # teams:{conversation.id}
    tenant: str | None  # the conversation's tenant
    home_tenant: str | None  # the sender's own tenant (differs for guests and external users)
    actor: Actor


class TurnFacts:
    def __init__(
        self, directory: Directory, channels: ChannelStore, references: ReferenceStore, redis: aioredis.Redis
    ) -> None:
        self._directory = directory
        self._channels = channels
        self._references = references
        self._redis = redis

    async def who(self, context: TurnContext) -> Who:
        activity = context.activity
        key = conversation_key(activity.conversation.id)
        tenant = conversation_tenant(activity)
        reference = TurnContext.get_conversation_reference(activity)
        await self._references.save(key, reference.serialize(), tenant_id=tenant)
        user = activity.from_property
        home = await self._home_tenant(context, tenant)
        actor = self._directory.actor(
            user_id=user.id, aad_object_id=user.aad_object_id, name=user.name, home_tenant=home
        )
        if actor.display_name:
            await self._references.remember_name(actor.id, actor.display_name)
        return Who(key, tenant, home, actor)

    async def name_of(self, actor_id: str | None) -> str | None:
        return await self._references.name_of(actor_id)

    async def _home_tenant(self, context: TurnContext, tenant: str | None) -> str | None:
        """The sender's home tenant, from the connector's member record (cached). A guest writes from inside
        another tenant's conversation; their org and role must come from their own tenant. If the lookup
        fails we fail closed: no home tenant, so never staff."""
        user_id = context.activity.from_property.id
        cache = f"teams:home-tenant:{user_id}"
        try:
            cached = await self._redis.get(cache)
            if cached:
                return cached.decode() if isinstance(cached, bytes) else str(cached)
        except (aioredis.RedisError, OSError, TimeoutError) as exc:
            log.warning("Redis unavailable for the tenant cache (%s)", exc)
        try:
            member = await TeamsInfo.get_member(context, user_id)
        except Exception as exc:  # any connector failure: unknown tenant
            log.warning("could not look up Teams member %s (%s); treating them as a customer", user_id, exc)
            return None
        home = str(member.tenant_id).lower() if getattr(member, "tenant_id", None) else tenant
        if home:
            with contextlib.suppress(aioredis.RedisError, OSError, TimeoutError):  # only a cache
                await self._redis.set(cache, home, ex=TENANT_TTL)
        return home

    async def org_for(self, who: Who) -> str | None:
        """Customers: their home tenant's org (None = not connected). Staff: the conversation's org."""
        tenant = (who.home_tenant or who.tenant) if who.actor.role is Role.CUSTOMER else who.tenant
        return await self._channels.org_for(PLATFORM, tenant) if tenant else None
