"""A local webhook receiver, over real HTTP, for the webhook executor's tests.

It checks every request's signature with `escalation.webhook.verify` (a bad one gets 401),
keeps one result per idempotency key (a repeated key gets the stored result with
`"replayed": true` and does not run again), and answers from a script first:

    fake.respond(500, 500)                                   # two failures, then the default
    fake.respond(Reply(429, headers={"Retry-After": "1"}))
    fake.respond(Reply(delay=2.0))                           # answer (and run) 2 s late
    fake.respond(Reply(200, body="not json"))                # verbatim body, nothing runs

A scripted entry without a body and a 2xx status (the default) runs the action; other
statuses get a small JSON error body. Once the script is used up every request is a 2xx.
A request marked as a dry run (`"dry_run": true` in its signed body) is answered as if it ran, and
recorded in `dry_runs`, but runs nothing and is not remembered under its key.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from escalation.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.fakes.server_thread import ServerThread

SECRET = "whsec-test-0123456789"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # None: the normal behaviour; str/bytes/dict/list: sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (or running)


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival
    signature_ok: bool

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeWebhook:
    """Runs in its own thread and loop, so async tests can call it with a real client."""

    secret: str = SECRET
    tolerance: float = 300
    requests: list[Received] = field(default_factory=list)
    ran: Counter[str] = field(default_factory=Counter)  # idempotency key -> times the action ran
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    dry_runs: list[dict[str, Any]] = field(default_factory=list)  # bodies of the dry-run requests answered
    answered: int = 0  # handlers that have finished, including ones whose client gave up
    port: int = 0

    def __post_init__(self) -> None:
        self._script: deque[Reply] = deque()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/actions"

    def respond(self, *replies: Reply | int) -> None:
        """Queue answers for the next requests; an int is shorthand for Reply(status)."""
        self._script.extend(Reply(r) if isinstance(r, int) else r for r in replies)

    @property
    def distinct_keys(self) -> int:
        return len({r.headers.get(IDEMPOTENCY_HEADER) for r in self.requests})

    def run_action(self, payload: dict[str, Any]) -> dict[str, Any]:
        number = sum(self.ran.values())
        return {
            "summary": "refunded 40.00",
            "data": {"refund_id": f"re_{number}", "action": payload["action"]},
            "reverse_params": {"refund_id": f"re_{number}", "amount": payload["params"].get("amount")},
        }

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            return await self._answer(request)
        finally:
            self.answered += 1

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        signature_ok = verify(
            self.secret,
            headers.get(TIMESTAMP_HEADER, ""),
            body,
            headers.get(SIGNATURE_HEADER, ""),
            now=time.time(),
            tolerance=self.tolerance,
        )
        self.requests.append(Received(headers=headers, body=body, at=time.monotonic(), signature_ok=signature_ok))
        if not signature_ok:
            return web.json_response({"error": "bad signature"}, status=401)
        reply = self._script.popleft() if self._script else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.body is not None:
            if isinstance(reply.body, dict | list):
                return web.json_response(reply.body, status=reply.status, headers=reply.headers)
            raw = reply.body.encode() if isinstance(reply.body, str) else reply.body
            return web.Response(body=raw, status=reply.status, headers=reply.headers, content_type="text/plain")
        if not 200 <= reply.status < 300:
            return web.json_response({"error": f"scripted {reply.status}"}, status=reply.status, headers=reply.headers)
        payload = json.loads(body)
        if payload.get("dry_run") is True:
            self.dry_runs.append(payload)
            answer = {**self.run_action(payload), "summary": f"dry run: would {payload['action']}"}
            return web.json_response(answer, status=reply.status, headers=reply.headers)
        key = headers[IDEMPOTENCY_HEADER]
        if key in self.results:
            return web.json_response({**self.results[key], "replayed": True}, headers=reply.headers)
        result = self.run_action(payload)
        self.ran[key] += 1
        self.results[key] = result
        return web.json_response(result, status=reply.status, headers=reply.headers)

    def start(self) -> FakeWebhook:
        self._server = ServerThread(lambda app: app.router.add_post("/hooks/actions", self._handle))
        self.port = self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
