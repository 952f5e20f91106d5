"""Live updates for open playground pages: one LISTEN connection per web process hears every new post (from
this process or a worker's) and wakes the event streams, which then read what is new. A stream also looks
on its own every few seconds, so a notification lost while PostgreSQL reconnects only delays a post."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg

log = logging.getLogger(__name__)

CHANNEL = "web_posts"
RECONNECT_SECONDS = 2.0
LOOK_ANYWAY_SECONDS = 3.0


class PostFeed:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="web posts listener")

    async def stop(self) -> None:
        """Ends every open stream (they see `closing`) and the listener."""
        self.closing = True
        self._wake()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def mark(self) -> asyncio.Event:
        """Taken before a stream reads, so a post written during the read still wakes it afterwards."""
        return self._changed

    async def wait(self, mark: asyncio.Event, *, timeout: float = LOOK_ANYWAY_SECONDS) -> None:  # noqa: ASYNC109
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(mark.wait(), timeout)

    def _wake(self) -> None:
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._wake()  # anything posted while not listening
                    async for _ in conn.notifies():
                        self._wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL went away: streams keep looking on their own meanwhile
                log.warning("web posts listener stopped (%s); listening again shortly", exc)
                await asyncio.sleep(RECONNECT_SECONDS)
