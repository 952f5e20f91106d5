"""The web playground as a chat platform ("web"): a message is stored as an inbound event and its turn queued,
exactly as Slack's and Teams' are, then answered by a turn worker (this process or `supportbot worker`);
what the core says is posted to the playground's channels (`web_posts`), where open pages see it at once.

Conversation keys read `web:ORG:CUSTOMER:THREAD` (ORG `-` for a consumer without a business org).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.queue.intake import Intake
from bot.web.posts import STAFF, WebPosts
from escalation.models import Actor, Role
from handlers.models import (
    ApprovalRequest,
    HandoffNotice,
    InboundMessage,
    Outbound,
    Platform,
    Reply,
    StaffNote,
    Unbound,
)
from handlers.outbound_codec import encode
from handlers.turns import ItemKey, PlatformTurn
from knowledge.store import Pool
from scheduler.outbox import Outbox

log = logging.getLogger(__name__)

PLATFORM = Platform.WEB.value
NO_ORG = "-"


def conversation_key(org: str | None, customer: str, thread: str) -> str:
    return f"{PLATFORM}:{org or NO_ORG}:{customer}:{thread}"


def parse_key(key: str) -> tuple[str | None, str, str] | None:
    """`web:globex:cus_1011:ab12` → ("globex", "cus_1011", "ab12"); None for other platforms' keys."""
    parts = key.split(":")
    if len(parts) != 4 or parts[0] != PLATFORM:
        return None
    return (None if parts[1] == NO_ORG else parts[1]), parts[2], parts[3]


def actor_payload(actor: Actor) -> dict[str, Any]:
    return {"id": actor.id, "role": actor.role.value, "groups": sorted(actor.groups), "name": actor.display_name}


def actor_from(payload: dict[str, Any]) -> Actor:
    return Actor(str(payload["id"]), Role(payload["role"]), frozenset(payload.get("groups") or ()), payload.get("name"))


class WebFront:
    """The web platform's side of the turn queue: what is stored when someone writes, and where items go."""

    def __init__(self, posts: WebPosts, outbox: Outbox) -> None:
        self.posts = posts
        self._outbox = outbox

    async def say(self, intake: Intake, *, key: str, org: str | None, actor: Actor, text: str, nonce: str) -> bool:
        """Store the message and queue its turn (before the page is told "sent"), and show it in the pane.
        False when this form was sent before (`nonce`: one per rendered form)."""
        event_key = f"msg:{key}:{nonce}"
        payload = {"key": key, "org": org, "author": actor_payload(actor), "text": text}
        stored = await intake.accept(event_key, conversation_key=key, payload=payload, retry=False)
        if stored:
            body = {"text": text, "role": actor.role.value, "name": actor.label}
            await self.posts.add(key, "message", body, author=actor.id, delivery=event_key)
        return stored

    async def open_turn(self, payload: dict[str, Any], body: Callable[[PlatformTurn], Awaitable[None]]) -> None:
        await body(WebTurn(self, payload))

    async def deliver(self, item: Outbound, *, delivery: str | None = None) -> None:
        """Post one item where it belongs: replies to their conversation (another platform's through the outbox,
        which that platform drains), cards and notes to the web staff channel."""
        encoded = encode([item])[0]
        if isinstance(item, Reply):
            if item.conversation_key.startswith(f"{PLATFORM}:"):
                await self.posts.add(item.conversation_key, "reply", encoded, delivery=delivery)
            else:
                await self._elsewhere(item)
        elif isinstance(item, ApprovalRequest):
            await self.posts.add(STAFF, "approval", encoded, subject=item.approval.id, delivery=delivery)
        elif isinstance(item, HandoffNotice):
            await self.posts.add(STAFF, "handoff", encoded, subject=item.handoff.id, delivery=delivery)
        elif isinstance(item, StaffNote):
            await self.posts.add(STAFF, "note", encoded, delivery=delivery)

    async def refresh(self, subject: str, kind: str) -> None:
        """A card changed (a decision, a claim): a new post of it, which open pages put in place of the old."""
        await self.posts.add(STAFF, kind, {}, subject=subject)

    async def _elsewhere(self, reply: Reply) -> None:
        platform = reply.conversation_key.split(":", 1)[0]
        await self._outbox.add(
            kind="reply",
            text=reply.text,
            source=PLATFORM,
            conversation_key=reply.conversation_key,
            payload={"decision_id": reply.decision_id, "platform": platform},
        )


class WebTurn:
    def __init__(self, front: WebFront, payload: dict[str, Any]) -> None:
        self._front = front
        self._payload = payload

    async def inbound(self) -> InboundMessage | Unbound | None:
        author = actor_from(self._payload["author"])
        text = str(self._payload.get("text") or "").strip()
        if not text:
            return None
        org = self._payload.get("org")
        return InboundMessage(Platform.WEB, org, str(self._payload["key"]), author, text)

    async def deliver(self, item: Outbound, key: ItemKey) -> None:
        await self._front.deliver(item, delivery=_delivery(key))

    async def sent_before(self, item: Outbound, key: ItemKey) -> bool:
        return await self._front.posts.posted(_delivery(key))


def _delivery(key: ItemKey) -> str:
    return f"turn:{key.event_id}:{key.item}"


def web_frontend(pool: Pool) -> WebFront:
    return WebFront(WebPosts(pool), Outbox(pool))
