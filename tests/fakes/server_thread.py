"""A real aiohttp server on 127.0.0.1 in its own thread and event loop, so that async tests (on their own
loop) and subprocesses can both talk to a fake over HTTP."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable

from aiohttp import web


class ServerThread:
    def __init__(
        self,
        routes: Callable[[web.Application], None],
        *,
        on_start: Callable[[], None] | None = None,
        before_stop: Callable[[], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._routes = routes
        self._on_start = on_start  # runs on the server's loop, before it accepts requests
        self._before_stop = before_stop  # runs on the server's loop, e.g. to wake sleeping handlers
        self._ssl_context = ssl_context  # HTTPS (a fake login service: MSAL accepts only https authorities)
        self.port = 0

    def start(self) -> int:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            if self._on_start:
                self._on_start()
            app = web.Application()
            self._routes(app)
            self._runner = web.AppRunner(app, shutdown_timeout=1.0)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl_context)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake server did not start")
        return self.port

    def stop(self) -> None:
        if self._before_stop:
            self._loop.call_soon_threadsafe(self._before_stop)
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
