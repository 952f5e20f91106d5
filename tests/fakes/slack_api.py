"""A local Slack Web API (and Socket Mode) server, over real HTTP, for adapter tests and benches.

The real `AsyncWebClient(token=..., base_url=fake.start())` works against it unchanged; so does
`slack_sdk.socket_mode.aiohttp.SocketModeClient` (its `apps.connections.open` hands out a WebSocket
on this server). Every call is recorded, errors answered, and faults can be injected:

    with fake_slack() as fake:
        fake.usergroups = {"S123": ["U1", "U2"]}
        fake.scopes = ["chat:write", "users:read"]              # answered in X-OAuth-Scopes
        fake.channels = {"C1": {"is_ext_shared": True}}
        fake.fail_next("chat.postMessage", status=429, retry_after=0)   # then one 200
        fake.fail_next("chat.update", error="message_not_found")        # HTTP 200, ok: false
        ...
        fake.wait_for("chat.postMessage", count=2)          # from a test that does not share the bot's loop
        await fake.wait_for_async("chat.postMessage")       # from an async test whose loop runs the bot

Like Slack: no token → `not_authed`; `apps.connections.open` wants an app-level (`xapp-`) token;
adding a reaction twice → `already_reacted`; removing one that is not there → `no_reaction`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.server_thread import ServerThread

Params = dict[str, Any]
Body = dict[str, Any]


@dataclass(frozen=True)
class Call:
    method: str  # e.g. "chat.postMessage"
    params: Params  # query, form and JSON arguments merged; JSON-string fields (`blocks`) left as sent
    token: str | None  # from the Authorization header (or a `token` argument)
    status: int = 200  # the HTTP status answered
    error: str | None = None  # the error answered, when `ok` was false


@dataclass
class _Fault:
    status: int
    error: str
    retry_after: int | None
    times: int


@dataclass
class FakeSlack:
    """Runs in its own thread and loop; configure it through the public dicts before (or between) calls."""

    team_id: str = "T0HOME"
    team_name: str = "Supportbot Home"
    team_domain: str = "supportbot-home"
    bot_user_id: str = "U0BOT"
    bot_id: str = "B0BOT"
    app_id: str = "A0APP"
    valid_tokens: set[str] | None = None  # None: any token; else others get `invalid_auth`
    usergroups: dict[str, list[str]] = field(default_factory=dict)  # usergroup id → user ids
    users: dict[str, Params] = field(default_factory=dict)  # user id → fields over a plausible default
    channels: dict[str, Params] = field(default_factory=dict)  # channel id → fields over a default
    teams: dict[str, Params] = field(default_factory=dict)  # team id → fields over a default
    uploads: dict[str, bytes] = field(default_factory=dict)  # file id → the bytes uploaded
    # the token's scopes, sent as Slack does in the X-OAuth-Scopes header of every answer; None: no header
    scopes: list[str] | None = None
    calls: list[Call] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)  # what Socket Mode clients sent back
    socket_connections: int = 0  # WebSocket connections accepted so far
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, list[_Fault]] = {}
        self._counter = itertools.count(1)
        self._reactions: set[tuple[str, str, str]] = set()  # channel, ts, name
        self._posted: list[tuple[str, Body]] = []  # (channel, message) of every chat.postMessage answered ok
        self._sockets: list[web.WebSocketResponse] = []
        self._handlers: dict[str, Callable[[Params], Body]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._permalink,
            "views.open": self._view,
            "views.update": self._view,
            "views.publish": self._view,
            "reactions.add": self._reaction_add,
            "reactions.remove": self._reaction_remove,
            "usergroups.users.list": self._usergroup_users,
            "users.info": self._user_info,
            "conversations.info": self._conversation_info,
            "conversations.replies": self._replies,
            "team.info": self._team_info,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    # --- life cycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def start(self) -> str:
        def routes(app: web.Application) -> None:
            app.router.add_route("*", "/api/{method}", self._api)
            app.router.add_post("/upload/v1/{file_id}", self._upload)
            app.router.add_get("/socket", self._socket)

        def created() -> None:
            self._loop = asyncio.get_running_loop()

        self._server = ServerThread(routes, on_start=created)
        self.port = self._server.start()
        return self.base_url

    def stop(self) -> None:
        # open WebSockets would hold the runner's shutdown for its whole timeout
        asyncio.run_coroutine_threadsafe(self._close_sockets(), self._loop).result(5)
        self._server.stop()

    def __enter__(self) -> FakeSlack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests use ---------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` with a failure.

        No arguments: 429 `ratelimited` with a Retry-After header. `status=500`: a server error.
        `error=...` alone: HTTP 200 with `ok: false`. Retry-After is sent only with 429.
        """
        status = status if status is not None else (200 if error else 429)
        default = "ratelimited" if status == 429 else "fatal_error" if status >= 500 else "invalid_request"
        fault = _Fault(status, error or default, retry_after if status == 429 else None, times)
        with self._lock:
            self._faults.setdefault(method, []).append(fault)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until `method` was called `count` times; the bot often calls Slack after acking."""
        _poll(lambda: len(self.calls_to(method)) >= count, timeout, f"{count} call(s) to {method}")
        return self.calls_to(method)

    # the async waits take `timeout` like their blocking twins, rather than asking for asyncio.timeout around them
    async def wait_for_async(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:  # noqa: ASYNC109
        """`wait_for` for async tests whose own loop must keep running (e.g. it runs the bot)."""
        await _poll_async(lambda: len(self.calls_to(method)) >= count, timeout, f"{count} call(s) to {method}")
        return self.calls_to(method)

    def socket_send(self, envelope: dict[str, Any]) -> str:
        """Push an envelope to the newest Socket Mode client; returns its envelope_id (made up when missing)."""
        envelope = dict(envelope)
        envelope.setdefault("envelope_id", f"env-{next(self._counter):06d}")
        envelope.setdefault("accepts_response_payload", envelope.get("type") != "events_api")
        if envelope.get("type") == "events_api":
            envelope.setdefault("retry_attempt", 0)
            envelope.setdefault("retry_reason", "")
        self._send_socket(envelope)
        return str(envelope["envelope_id"])

    def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect, as Slack does every few hours (it calls apps.connections.open again)."""
        self._send_socket({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-slack"}})

    def acks_for(self, envelope_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [ack for ack in self.socket_acks if ack.get("envelope_id") == envelope_id]

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        _poll(lambda: bool(self.acks_for(envelope_id)), timeout, f"an ack of {envelope_id}")
        return self.acks_for(envelope_id)[0]

    async def wait_for_ack_async(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        await _poll_async(lambda: bool(self.acks_for(envelope_id)), timeout, f"an ack of {envelope_id}")
        return self.acks_for(envelope_id)[0]

    def wait_for_socket_client(self, timeout: float = 5.0) -> None:
        _poll(lambda: bool(self._sockets), timeout, "a Socket Mode client")

    async def wait_for_socket_client_async(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await _poll_async(lambda: bool(self._sockets), timeout, "a Socket Mode client")

    # --- HTTP -----------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: Params = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            params.update(body if isinstance(body, dict) else {})
        elif request.method == "POST":
            for key, value in (await request.post()).items():
                params[key] = value.file.read() if isinstance(value, web.FileField) else value
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or None
        token = token or params.pop("token", None)
        status, headers, answer = self._answer(method, params, token)
        if self.scopes is not None and token:
            headers = {**headers, "X-OAuth-Scopes": ",".join(self.scopes)}
        with self._lock:
            self.calls.append(Call(method, params, token, status, None if answer.get("ok") else answer.get("error")))
        return web.json_response(answer, status=status, headers=headers)

    def _answer(self, method: str, params: Params, token: str | None) -> tuple[int, dict[str, str], Body]:
        with self._lock:
            queued = self._faults.get(method)
            fault = queued[0] if queued else None
            if fault and queued:
                fault.times -= 1
                if fault.times <= 0:
                    queued.pop(0)
        if fault:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return fault.status, headers, {"ok": False, "error": fault.error}
        if not token:
            return 200, {}, {"ok": False, "error": "not_authed"}
        if self.valid_tokens is not None and token not in self.valid_tokens:
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        if method == "apps.connections.open":
            return 200, {}, self._connections_open(token)
        handler = self._handlers.get(method)
        return 200, {}, handler(params) if handler else {"ok": False, "error": "unknown_method"}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        with self._lock:
            self.uploads[file_id] = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    # --- Socket Mode ----------------------------------------------------------------------------

    def _connections_open(self, token: str) -> Body:
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        ticket = next(self._counter)
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}&app_id={self.app_id}"}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)  # answers the client's pings with pongs
        await ws.prepare(request)
        with self._lock:
            self._sockets.append(ws)
            self.socket_connections += 1
            connections = len(self._sockets)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": connections,
                "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    ack = json.loads(message.data)
                    with self._lock:
                        self.socket_acks.append(ack)
        finally:
            with self._lock:
                self._sockets.remove(ws)
        return ws

    def _send_socket(self, message: dict[str, Any]) -> None:
        async def send() -> None:
            if not self._sockets:
                raise RuntimeError("no Socket Mode client is connected")
            await self._sockets[-1].send_json(message)

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(5)

    async def _close_sockets(self) -> None:
        for ws in list(self._sockets):
            await ws.close()

    # --- Web API methods ------------------------------------------------------------------------

    def _next_ts(self) -> str:
        micros = 1_700_000_000_000_000 + next(self._counter) * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _message(self, params: Params, ts: str) -> Body:
        message: Body = {
            "type": "message",
            "text": params.get("text", ""),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "metadata"):
            if key in params:
                message[key] = _maybe_json(params[key])
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        return message

    def _auth_test(self, params: Params) -> Body:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": "supportbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, params: Params) -> Body:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not any(params.get(key) for key in ("text", "blocks", "attachments")):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message = self._message(params, ts)
        with self._lock:
            self._posted.append((str(params["channel"]), message))
        return {"ok": True, "channel": params["channel"], "ts": ts, "message": message}

    def _update(self, params: Params) -> Body:
        if not params.get("channel") or not params.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        ts = str(params["ts"])
        return {
            "ok": True,
            "channel": params["channel"],
            "ts": ts,
            "text": params.get("text", ""),
            "message": self._message(params, ts),
        }

    def _post_ephemeral(self, params: Params) -> Body:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _permalink(self, params: Params) -> Body:
        channel, ts = params.get("channel"), str(params.get("message_ts", ""))
        if not channel or not ts:
            return {"ok": False, "error": "message_not_found"}
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _view(self, params: Params) -> Body:
        view = _maybe_json(params.get("view"))
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        view_id = params.get("view_id") or f"V{next(self._counter):08d}"
        state: Body = {"values": {}}
        return {
            "ok": True,
            "view": {
                **view,
                "id": view_id,
                "team_id": self.team_id,
                "app_id": self.app_id,
                "bot_id": self.bot_id,
                "hash": f"{int(time.time())}.fakehash",
                "state": state,
            },
        }

    def _reaction_add(self, params: Params) -> Body:
        key = (str(params.get("channel")), str(params.get("timestamp")), str(params.get("name")))
        with self._lock:
            if key in self._reactions:
                return {"ok": False, "error": "already_reacted"}
            self._reactions.add(key)
        return {"ok": True}

    def _reaction_remove(self, params: Params) -> Body:
        key = (str(params.get("channel")), str(params.get("timestamp")), str(params.get("name")))
        with self._lock:
            if key not in self._reactions:
                return {"ok": False, "error": "no_reaction"}
            self._reactions.discard(key)
        return {"ok": True}

    def _usergroup_users(self, params: Params) -> Body:
        members = self.usergroups.get(str(params.get("usergroup")))
        if members is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(members)}

    def _user_info(self, params: Params) -> Body:
        user_id = str(params.get("user", ""))
        if not user_id:
            return {"ok": False, "error": "user_not_found"}
        is_bot = user_id == self.bot_user_id
        name = "supportbot" if is_bot else f"user.{user_id.lower()}"
        user: Body = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": "Supportbot" if is_bot else f"User {user_id}",
            "deleted": False,
            "is_bot": is_bot,
            "is_admin": False,
            "tz": "Europe/London",
        }
        user.update(self.users.get(user_id, {}))
        user.setdefault(
            "profile",
            {"real_name": user["real_name"], "display_name": user["name"], "email": f"{user['name']}@example.com"},
        )
        return {"ok": True, "user": user}

    def _replies(self, params: Params) -> Body:
        """The thread's messages the bot posted, oldest first; metadata only with include_all_metadata."""
        channel, ts = params.get("channel"), params.get("ts")
        with_metadata = str(params.get("include_all_metadata", "")).lower() in {"1", "true"}
        with self._lock:
            posted = [dict(message) for where, message in self._posted if where == channel]
        messages = [
            message if with_metadata else {k: v for k, v in message.items() if k != "metadata"}
            for message in posted
            if message.get("thread_ts") == ts
        ]
        return {"ok": True, "messages": messages, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _conversation_info(self, params: Params) -> Body:
        channel_id = str(params.get("channel", ""))
        if not channel_id:
            return {"ok": False, "error": "channel_not_found"}
        channel: Body = {
            "id": channel_id,
            "name": f"channel-{channel_id.lower()}",
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_private": False,
            "is_archived": False,
            "is_member": True,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "context_team_id": self.team_id,
            "shared_team_ids": [self.team_id],
        }
        channel.update(self.channels.get(channel_id, {}))
        return {"ok": True, "channel": channel}

    def _team_info(self, params: Params) -> Body:
        team_id = str(params.get("team") or self.team_id)
        team: Body = {
            "id": team_id,
            "name": self.team_name if team_id == self.team_id else f"Team {team_id}",
            "domain": self.team_domain if team_id == self.team_id else f"team-{team_id.lower()}",
            "email_domain": "",
            "icon": {"image_default": True},
        }
        team.update(self.teams.get(team_id, {}))
        return {"ok": True, "team": team}

    def _upload_url(self, params: Params) -> Body:
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._counter):08d}"
        return {"ok": True, "upload_url": f"http://127.0.0.1:{self.port}/upload/v1/{file_id}", "file_id": file_id}

    def _complete_upload(self, params: Params) -> Body:
        files = _maybe_json(params.get("files"))
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            unknown = [f.get("id") for f in files if f.get("id") not in self.uploads]
        if unknown:
            return {"ok": False, "error": "file_not_found"}
        channels = [params["channel_id"]] if params.get("channel_id") else []
        answered = [
            {
                "id": f["id"],
                "title": f.get("title") or "",
                "size": len(self.uploads[f["id"]]),
                "channels": channels,
                "user": self.bot_user_id,
            }
            for f in files
        ]
        return {"ok": True, "files": answered}


@contextlib.contextmanager
def fake_slack(**options: Any) -> Iterator[FakeSlack]:
    """A started FakeSlack, stopped afterwards; `options` go to FakeSlack (e.g. team_id, bot_user_id)."""
    with FakeSlack(**options) as fake:
        yield fake


def _maybe_json(value: Any) -> Any:
    """Form-encoded calls carry blocks, views and file lists as JSON strings; JSON calls as objects."""
    if isinstance(value, str) and value.startswith(("[", "{")):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _poll(done: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(0.01)


async def _poll_async(done: Callable[[], bool], timeout: float, what: str) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.01)
