"""A local OpenAI-compatible embeddings server, over real HTTP, for adapter and CLI tests.

Vectors are hashed bags of words: deterministic, and texts sharing words are similar.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DIMENSION = 64


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
    requests: list[dict[str, Any]] = field(default_factory=list)
    api_keys: list[str] = field(default_factory=list)
    port: int = 0

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

    def start(self) -> FakeOpenAI:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/v1/embeddings", self._embeddings)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
