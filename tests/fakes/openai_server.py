"""A local OpenAI-compatible server (embeddings, chat completions), over real HTTP, for adapter and CLI tests.

Vectors are hashed bags of words: deterministic, and texts sharing words are similar.
Chat completions answer from a script, one item per request, then "OK" once it runs out:
`fake.script(Reply("hi"), Reply(tool_calls=(("lookup", '{"id": 1}'),)), Status(500), Delay(1.0), RawBody("{"))`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server_thread import ServerThread

DIMENSION = 64


@dataclass(frozen=True)
class Reply:
    """A chat completion: text, tool calls (name, raw arguments: invalid JSON and unknown tools welcome), or both."""

    text: str | None = "OK"
    tool_calls: tuple[tuple[str, str], ...] = ()
    refusal: str | None = None
    finish_reason: str | None = None  # default: "tool_calls" when there are some, else "stop"
    usage: tuple[int, int] | None = (12, 3)  # prompt, completion tokens; None leaves usage out
    model: str | None = None  # default: the model the request asked for
    no_choices: bool = False  # answer `"choices": []`


@dataclass(frozen=True)
class Status:
    """An HTTP error. `retry-after-ms` keeps the client's retries fast in tests."""

    status: int
    message: str = "boom"
    retry_after_ms: int | None = 1


@dataclass(frozen=True)
class Delay:
    """Answer only after `seconds`, to make the client time out."""

    seconds: float
    then: Reply = field(default_factory=Reply)


@dataclass(frozen=True)
class RawBody:
    """Any body at all, e.g. text that is not JSON."""

    body: str
    status: int = 200
    content_type: str = "application/json"


ScriptItem = Reply | Status | Delay | RawBody


def bag_of_words(text: str, dimension: int = DIMENSION) -> list[float]:
    vector = [0.0] * dimension
    for word in re.findall(r"\w+", text.lower()):
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % dimension] += 1.0
    if not any(vector):
        vector[0] = 1.0
    return vector


@dataclass
class FakeOpenAI:
    """Runs in its own thread and loop so that both async tests and subprocesses can call it."""

    fail_with: int | None = None  # answer every request with this HTTP status
    drop_one: bool = False  # return one vector fewer than asked
    requests: list[dict[str, Any]] = field(default_factory=list)  # embeddings request bodies
    api_keys: list[str] = field(default_factory=list)  # embeddings Authorization headers
    chat_requests: list[dict[str, Any]] = field(default_factory=list)  # chat completion request bodies
    chat_headers: list[dict[str, str]] = field(default_factory=list)  # their headers, lower-case names
    port: int = 0
    _script: deque[ScriptItem] = field(default_factory=deque, init=False, repr=False)

    def script(self, *items: ScriptItem) -> None:
        """Queue the answers to the next chat completion requests, one item per request."""
        self._script.extend(items)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.api_keys.append(request.headers.get("Authorization", ""))
        if self.fail_with is not None:
            return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=self.fail_with)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if self.drop_one:
            inputs = inputs[:-1]
        data = [{"object": "embedding", "index": i, "embedding": bag_of_words(text)} for i, text in enumerate(inputs)]
        # reversed on purpose: clients must order by `index`, not by position
        return web.json_response(
            {
                "object": "list",
                "data": data[::-1],
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        )

    async def _chat(self, request: web.Request) -> web.Response:
        text = await request.text()
        body = json.loads(text)
        self.chat_requests.append(body)
        self.chat_headers.append({key.lower(): value for key, value in request.headers.items()})
        if self.fail_with is not None:
            return _error(Status(self.fail_with))
        item = self._script.popleft() if self._script else Reply()
        if isinstance(item, Delay):
            # wake early when the server stops, so that shutdown does not wait for the sleeper
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), item.seconds)
            item = item.then
        if isinstance(item, Status):
            return _error(item)
        if isinstance(item, RawBody):
            return web.Response(text=item.body, status=item.status, content_type=item.content_type)
        return web.json_response(_completion(item, body))

    def start(self) -> FakeOpenAI:
        def routes(app: web.Application) -> None:
            app.router.add_post("/v1/embeddings", self._embeddings)
            app.router.add_post("/v1/chat/completions", self._chat)

        def created() -> None:
            self._stopping = asyncio.Event()

        def wake_sleepers() -> None:
            self._stopping.set()

        self._server = ServerThread(routes, on_start=created, before_stop=wake_sleepers)
        self.port = self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


def _error(item: Status) -> web.Response:
    headers = {"retry-after-ms": str(item.retry_after_ms)} if item.retry_after_ms is not None else {}
    kind = (
        "rate_limit_error" if item.status == 429 else "server_error" if item.status >= 500 else "invalid_request_error"
    )
    return web.json_response(
        {"error": {"message": item.message, "type": kind, "param": None, "code": None}},
        status=item.status,
        headers=headers,
    )


def _completion(reply: Reply, request: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": reply.refusal}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": arguments}}
            for i, (name, arguments) in enumerate(reply.tool_calls)
        ]
    finish_reason = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    answer: dict[str, Any] = {
        "id": f"chatcmpl-{len(request.get('messages', []))}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": reply.model or request.get("model", "fake-chat"),
        "choices": []
        if reply.no_choices
        else [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
    }
    if reply.usage is not None:
        prompt, completion = reply.usage
        answer["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return answer
