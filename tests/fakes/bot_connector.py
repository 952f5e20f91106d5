"""A local Bot Connector (the service a Teams activity's `serviceUrl` points at), over real HTTP.

It records every activity the bot posts (`POST /v3/conversations/{id}/activities[/{replyToId}]`), every
update (`PUT …/activities/{id}`) and every new conversation (`POST /v3/conversations`, the staff-channel
threads), answers member look-ups from `members`, and serves OpenID metadata and a JWKS so a test can
turn authentication on with keys of its own. `fail(n)` makes the next n posts answer 500.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server_thread import ServerThread


@dataclass(frozen=True)
class Sent:
    method: str  # POST (new or reply), PUT (update), CREATE (new conversation)
    conversation_id: str
    activity_id: str  # the id given to the new activity, or the one updated
    reply_to: str | None
    body: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.body.get("type", ""))

    @property
    def text(self) -> str:
        return str(self.body.get("text") or "")

    @property
    def card(self) -> dict[str, Any] | None:
        for attachment in self.body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return dict(attachment["content"])
        return None

    def card_text(self) -> str:
        """Every TextBlock and fact of the card, one per line."""
        lines: list[str] = []
        for item in (self.card or {}).get("body", []):
            if item.get("type") == "TextBlock":
                lines.append(item["text"])
            elif item.get("type") == "FactSet":
                lines += [f"{fact['title']}: {fact['value']}" for fact in item["facts"]]
        return "\n".join(lines)


@dataclass
class FakeBotConnector:
    sent: list[Sent] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    jwks: list[dict[str, Any]] = field(default_factory=list)
    failures_left: int = 0
    port: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def metadata_url(self) -> str:
        return f"{self.url}.well-known/openid-configuration"

    def fail(self, count: int) -> None:
        self.failures_left = count

    def posted(self, conversation_id: str | None = None, *, kind: str = "message") -> list[Sent]:
        """Activities posted (not updates), optionally to one conversation (a prefix matches its threads)."""
        return [
            s
            for s in self.sent
            if s.method in {"POST", "CREATE"}
            and s.type == kind
            and (conversation_id is None or s.conversation_id.startswith(conversation_id))
        ]

    def updates(self) -> list[Sent]:
        return [s for s in self.sent if s.method == "PUT"]

    def _failing(self) -> web.Response | None:
        if self.failures_left > 0:
            self.failures_left -= 1
            return web.json_response({"error": {"code": "ServiceError", "message": "scripted"}}, status=500)
        return None

    async def _post(self, request: web.Request) -> web.Response:
        if failed := self._failing():
            return failed
        conversation = request.match_info["conversation"]
        activity_id = f"act-{next(self._ids)}"
        reply_to = request.match_info.get("activity")
        self.sent.append(Sent("POST", conversation, activity_id, reply_to, await request.json()))
        return web.json_response({"id": activity_id})

    async def _put(self, request: web.Request) -> web.Response:
        if failed := self._failing():
            return failed
        conversation, activity_id = request.match_info["conversation"], request.match_info["activity"]
        self.sent.append(Sent("PUT", conversation, activity_id, None, await request.json()))
        return web.json_response({"id": activity_id})

    async def _create(self, request: web.Request) -> web.Response:
        if failed := self._failing():
            return failed
        parameters = await request.json()
        channel = ((parameters.get("channelData") or {}).get("channel") or {}).get("id") or "a:new"
        activity_id = f"act-{next(self._ids)}"
        conversation = f"{channel};messageid={activity_id}"
        self.sent.append(Sent("CREATE", conversation, activity_id, None, parameters.get("activity") or {}))
        return web.json_response({"id": conversation, "activityId": activity_id}, status=201)

    async def _member(self, request: web.Request) -> web.Response:
        member = self.members.get(request.match_info["member"])
        if member is None:
            return web.json_response({"error": {"code": "NotFound", "message": "no such member"}}, status=404)
        return web.json_response(member)

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response({"issuer": "https://api.botframework.com", "jwks_uri": f"{self.url}keys"})

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": self.jwks})

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._post)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._post)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._put)
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        app.router.add_get("/.well-known/openid-configuration", self._metadata)
        app.router.add_get("/keys", self._keys)

    def start(self) -> FakeBotConnector:
        self._server = ServerThread(self._routes)
        self.port = self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
