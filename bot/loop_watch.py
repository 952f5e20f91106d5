"""Event-loop stalls, measured and explained, so a slow ack can be traced to its cause.

A tick that wakes late is logged with what the process did meanwhile: the CPU it used (near the stall's
length: our own Python work held the loop; near zero: the process was not running at all, because the
cores were busy elsewhere or a call blocked) and how much of it the garbage collector took.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

TICK_S = 0.01


@dataclass
class _Collections:
    """Collector passes since the last tick (the callback runs on the loop's thread or any other)."""

    seconds: float = 0.0
    oldest: int = -1  # the oldest generation collected, -1 for none
    started: float | None = None

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        elif self.started is not None:
            self.seconds += time.perf_counter() - self.started
            self.oldest = max(self.oldest, int(info.get("generation", 0)))
            self.started = None

    def take(self) -> tuple[float, int]:
        taken = (self.seconds, self.oldest)
        self.seconds, self.oldest = 0.0, -1
        return taken


class LoopWatch:
    """Logs every stall of the running event loop longer than `warn_after_ms` (0: off)."""

    def __init__(self, *, warn_after_ms: float, name: str = "event loop") -> None:
        self._warn_after = warn_after_ms / 1000
        self._name = name
        self._collections = _Collections()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._warn_after <= 0 or self._task is not None:
            return
        gc.callbacks.append(self._collections.on_gc)
        self._task = asyncio.create_task(self._watch(), name="loop-watch")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._collections.on_gc)

    async def _watch(self) -> None:
        while True:
            wall, cpu = time.perf_counter(), time.process_time()
            self._collections.take()
            await asyncio.sleep(TICK_S)
            late = time.perf_counter() - wall - TICK_S
            if late >= self._warn_after:
                collector, generation = self._collections.take()
                log.warning(
                    "%s stalled %.0f ms: %.0f ms on CPU in this process, garbage collection %.0f ms%s",
                    self._name,
                    late * 1000,
                    (time.process_time() - cpu) * 1000,
                    collector * 1000,
                    f" (generation {generation})" if generation >= 0 else "",
                )
