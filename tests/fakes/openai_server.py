"""A local OpenAI-compatible server (embeddings, chat completions), over real HTTP, for adapter and CLI tests.

Vectors are hashed bags of words: deterministic, and texts sharing words are similar.
Chat completions answer from a script, one item per request, then "OK" once it runs out:
`fake.script(Reply("hi"), Reply(tool_calls=(("lookup", '{"id": 1}'),)), Status(500), Delay(1.0), RawBody("{"))`.

Items that behave like real servers seen misbehaving: `Reply("")` (empty content), `Echo()` (the prompt
back), `Truncated(40)` (cut off, `finish_reason=length`), `broken_arguments("refund")` (arguments `{`),
`Hang()` (never answers; records when the client gives up), `Trickle(3.0)` (the body a byte every 3 s, in
real chunked writes). `FakeOpenAI(ignore_tools=True)` answers text whatever tools a request offers, and
`FakeOpenAI(reject_tools="...")` refuses every request that offers tools with HTTP 400 (as Ollama does for
a model without tool calling).
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


@dataclass(frozen=True)
class Echo:
    """A model that does not follow instructions: the request's messages joined, sent back as the answer."""

    finish_reason: str = "stop"
    usage: tuple[int, int] | None = (900, 300)


@dataclass(frozen=True)
class Truncated:
    """Cut off at `chars` characters with `finish_reason=length`: of `text`, or of the echoed prompt."""

    chars: int
    text: str | None = None
    usage: tuple[int, int] | None = (900, 200)


@dataclass(frozen=True)
class Hang:
    """Never answer: wait until the client goes away (recorded in `FakeOpenAI.disconnects`) or the server stops."""


@dataclass(frozen=True)
class Trickle:
    """Send `then`'s body one byte every `interval` seconds, in real chunked writes, until done or the client
    goes away (recorded in `FakeOpenAI.disconnects`). A per-read time-out never fires on it."""

    interval: float
    then: Reply = field(default_factory=Reply)


def broken_arguments(tool: str) -> Reply:
    """A tool call whose arguments are a lone `{`, as small models write when they run out of tokens."""
    return Reply(None, tool_calls=((tool, "{"),))


ScriptItem = Reply | Status | Delay | RawBody | Echo | Truncated | Hang | Trickle


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
    ignore_tools: bool = False  # answer text even when tools are offered: tool calls in the script are dropped
    reject_tools: str | None = None  # refuse requests offering tools: HTTP 400 with this message
    drop_one: bool = False  # return one vector fewer than asked
    requests: list[dict[str, Any]] = field(default_factory=list)  # embeddings request bodies
    api_keys: list[str] = field(default_factory=list)  # embeddings Authorization headers
    chat_requests: list[dict[str, Any]] = field(default_factory=list)  # chat completion request bodies
    chat_headers: list[dict[str, str]] = field(default_factory=list)  # their headers, lower-case names
    disconnects: list[int] = field(default_factory=list)  # chat requests (by index) the client abandoned
    port: int = 0
    _script: deque[ScriptItem] = field(default_factory=deque, init=False, repr=False)

    def script(self, *items: ScriptItem) -> None:
        """Queue the answers to the next chat completion requests, one item per request."""
        self._script.extend(items)

    def reset(self) -> None:
        """Forget the script, the switches and what was received: a server shared by a module's tests."""
        self._script.clear()
        self.fail_with, self.ignore_tools, self.reject_tools = None, False, None
        for seen in (self.requests, self.api_keys, self.chat_requests, self.chat_headers, self.disconnects):
            seen.clear()

    async def disconnected(self, *, count: int = 1, timeout: float = 5.0) -> list[int]:  # noqa: ASYNC109
        """The abandoned requests, once `count` of them were noticed (the fake polls its connections)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        # the server's thread appends, on its own loop: no event of this loop can be set from there
        while len(self.disconnects) < count and loop.time() < end:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return list(self.disconnects)

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

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        text = await request.text()
        body = json.loads(text)
        self.chat_requests.append(body)
        self.chat_headers.append({key.lower(): value for key, value in request.headers.items()})
        index = len(self.chat_requests) - 1
        if self.fail_with is not None:
            return _error(Status(self.fail_with))
        if self.reject_tools is not None and body.get("tools"):
            return _error(Status(400, self.reject_tools))
        item = self._script.popleft() if self._script else Reply()
        if isinstance(item, Delay):
            # wake early when the server stops, so that shutdown does not wait for the sleeper
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), item.seconds)
            item = item.then
        if isinstance(item, Hang):
            return await self._hang(request, index)
        if isinstance(item, Trickle):
            return await self._trickle(request, index, self._reply(item.then, body), interval=item.interval)
        if isinstance(item, Status):
            return _error(item)
        if isinstance(item, RawBody):
            return web.Response(text=item.body, status=item.status, content_type=item.content_type)
        return web.json_response(self._reply(item, body))

    def _reply(self, item: Reply | Echo | Truncated, body: dict[str, Any]) -> dict[str, Any]:
        if isinstance(item, Echo):
            item = Reply(_prompt(body), finish_reason=item.finish_reason, usage=item.usage)
        elif isinstance(item, Truncated):
            text = _prompt(body) if item.text is None else item.text
            item = Reply(text[: item.chars], finish_reason="length", usage=item.usage)
        if self.ignore_tools and body.get("tools"):
            junk = "Sure! I can help with that. " * 8
            item = Reply(item.text if item.text else junk, finish_reason="stop", usage=(len(_prompt(body)) // 4, 200))
        return _completion(item, body)

    async def _hang(self, request: web.Request, index: int) -> web.Response:
        while not self._stopping.is_set():
            if _gone(request):
                self.disconnects.append(index)
                break
            await asyncio.sleep(0.02)
        return web.Response(status=503, text="the fake stopped hanging")

    async def _trickle(
        self, request: web.Request, index: int, answer: dict[str, Any], *, interval: float
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for byte in json.dumps(answer).encode():
                await response.write(bytes([byte]))
                # wake early when the server stops; notice a client that left between two bytes
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), interval)
                if self._stopping.is_set():
                    return response
                if _gone(request):
                    raise ConnectionResetError("the client went away")
            await response.write_eof()
        except ConnectionResetError:  # aiohttp's ClientConnectionResetError is one too
            self.disconnects.append(index)
        return response

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


def _gone(request: web.Request) -> bool:
    """Has the client closed the connection? aiohttp does not cancel a handler when it does."""
    transport = request.transport
    return transport is None or transport.is_closing()


def _prompt(body: dict[str, Any]) -> str:
    """What the request said, every message's content joined: what a model that echoes sends back."""
    return "\n\n".join(str(message.get("content") or "") for message in body.get("messages", []))


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
