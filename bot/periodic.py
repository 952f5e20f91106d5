"""A background loop for the life of the server: one pass every few seconds, a failed pass logged, not fatal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, step: Callable[[], Awaitable[object]], *, every: float) -> None:
        self._name = name
        self._step = step
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except Exception:  # e.g. the database is briefly away: the next pass tries again
                log.exception("%s: a pass failed", self._name)
            await asyncio.sleep(self._every)
