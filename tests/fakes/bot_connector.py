"""A local Bot Connector (the service a Teams activity's `serviceUrl` points at), over real HTTP.

It records every activity the bot posts (`POST /v3/conversations/{id}/activities[/{replyToId}]`), every
update (`PUT …/activities/{id}`) and every new conversation (`POST /v3/conversations`, the staff-channel
threads), answers member look-ups from `members` (404 in the conversations listed in `missing`), and
serves OpenID metadata and a JWKS so a test can turn authentication on with keys of its own. `fail(n)`
makes the next n posts answer 500.

`serve_login(certificate)` adds the other half of authentication, the bot's outbound tokens: a login
service over HTTPS (MSAL accepts only https authorities) with the OpenID configuration MSAL discovers and
a client-credentials token endpoint that checks the app id, secret and scope. From then on every call to
the connector must carry a token it issued (else 401, counted in `unauthorized`).
"""

from __future__ import annotations

import itertools
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server_thread import ServerThread
from tests.fakes.tls import Certificate

TENANT = "botframework.com"  # the tenant multi-tenant bots get their tokens from


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
    missing: set[str] = field(default_factory=set)  # conversations the bot is not in: their members are a 404
    jwks: list[dict[str, Any]] = field(default_factory=list)
    failures_left: int = 0
    port: int = 0
    # the login service (`serve_login`): who may get a token for what, and what it saw
    app_id: str = ""
    app_password: str = ""
    scope: str = ""
    login_port: int = 0
    login_requests: Counter[str] = field(default_factory=Counter)  # "discovery", "token", "refused"
    issued: set[str] = field(default_factory=set)
    unauthorized: int = 0  # calls to the connector without a token it issued, once tokens are required

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._login: ServerThread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def metadata_url(self) -> str:
        return f"{self.url}.well-known/openid-configuration"

    @property
    def login_url(self) -> str:
        """The authority the bot logs in at (MICROSOFT_LOGIN_URL): the login service and the tenant."""
        return f"https://127.0.0.1:{self.login_port}/{TENANT}"

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

    def _authorised(self, request: web.Request) -> bool:
        if self._login is None:
            return True  # no login service: the bot has no way to get a token, so none is asked for
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme == "Bearer" and token in self.issued:
            return True
        self.unauthorized += 1
        return False

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

    async def _members(self, request: web.Request) -> web.Response:
        if request.match_info["conversation"] in self.missing:
            return web.json_response({"error": {"code": "NotFound", "message": "no such conversation"}}, status=404)
        return web.json_response(list(self.members.values()))

    async def _member(self, request: web.Request) -> web.Response:
        member = self.members.get(request.match_info["member"])
        if request.match_info["conversation"] in self.missing or member is None:
            return web.json_response({"error": {"code": "NotFound", "message": "no such member"}}, status=404)
        return web.json_response(member)

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response({"issuer": "https://api.botframework.com", "jwks_uri": f"{self.url}keys"})

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": self.jwks})

    def _guarded(
        self, handler: Callable[[web.Request], Awaitable[web.Response]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def guarded(request: web.Request) -> web.Response:
            if not self._authorised(request):
                return web.json_response({"error": {"code": "Unauthorized", "message": "no valid token"}}, status=401)
            return await handler(request)

        return guarded

    def _routes(self, app: web.Application) -> None:
        guarded = self._guarded
        app.router.add_post("/v3/conversations", guarded(self._create))
        app.router.add_post("/v3/conversations/{conversation}/activities", guarded(self._post))
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", guarded(self._post))
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", guarded(self._put))
        app.router.add_get("/v3/conversations/{conversation}/members", guarded(self._members))
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", guarded(self._member))
        app.router.add_get("/.well-known/openid-configuration", self._metadata)
        app.router.add_get("/keys", self._keys)

    # --- the login service -------------------------------------------------------------------------

    async def _openid_configuration(self, request: web.Request) -> web.Response:
        self.login_requests["discovery"] += 1
        base = f"https://127.0.0.1:{self.login_port}/{request.match_info['tenant']}"
        return web.json_response(
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        good = (
            form.get("grant_type") == "client_credentials"
            and form.get("client_id") == self.app_id
            and form.get("client_secret") == self.app_password
            and f"{self.scope}/.default" in str(form.get("scope", "")).split()
        )
        if not good:
            self.login_requests["refused"] += 1
            return web.json_response(
                {"error": "invalid_client", "error_description": "wrong app id, secret or scope"}, status=401
            )
        self.login_requests["token"] += 1
        token = f"fake-{secrets.token_urlsafe(16)}"
        self.issued.add(token)
        return web.json_response({"token_type": "Bearer", "expires_in": 3600, "access_token": token})

    def _login_routes(self, app: web.Application) -> None:
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._openid_configuration)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)

    def serve_login(self, certificate: Certificate, *, app_id: str, app_password: str, scope: str) -> str:
        """Start the login service; returns the authority to log in at (`login_url`)."""
        self.app_id, self.app_password, self.scope = app_id, app_password, scope
        self._login = ServerThread(self._login_routes, ssl_context=certificate.server_context())
        self.login_port = self._login.start()
        return self.login_url

    def start(self) -> FakeBotConnector:
        self._server = ServerThread(self._routes)
        self.port = self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        if self._login is not None:
            self._login.stop()
