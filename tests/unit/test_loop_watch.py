"""The web server's loop watch: a stall is logged with what held the loop (CPU, the collector, or nothing)."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import time

import pytest

from bot.loop_watch import LoopWatch


def hold_the_loop(seconds: float) -> None:
    """What a blocking call in a handler does: nothing else on the loop runs meanwhile."""
    time.sleep(seconds)


STALL = re.compile(r"stalled (\d+) ms: (\d+) ms on CPU in this process, garbage collection (\d+) ms")


async def _stall_with(block: object, caplog: pytest.LogCaptureFixture) -> tuple[int, int, int]:
    watch = LoopWatch(warn_after_ms=40, name="test loop")
    with caplog.at_level(logging.WARNING, logger="bot.loop_watch"):
        watch.start()
        await asyncio.sleep(0.05)  # the watch is ticking
        assert callable(block)
        block()
        await asyncio.sleep(0.05)  # it wakes late and says so
        await watch.stop()
    stalls = [STALL.search(record.getMessage()) for record in caplog.records]
    found = [match for match in stalls if match is not None]
    assert len(found) == 1, caplog.text
    length, cpu, collector = (int(part) for part in found[0].groups())
    return length, cpu, collector


async def test_a_blocking_call_is_a_stall_without_cpu(caplog: pytest.LogCaptureFixture) -> None:
    length, cpu, collector = await _stall_with(lambda: time.sleep(0.2), caplog)
    assert length >= 150
    assert cpu < length / 4  # asleep, not computing
    assert collector == 0


async def test_busy_python_is_a_stall_on_cpu(caplog: pytest.LogCaptureFixture) -> None:
    def spin() -> None:
        until = time.process_time() + 0.2
        while time.process_time() < until:
            pass

    length, cpu, _ = await _stall_with(spin, caplog)
    assert length >= 150
    assert cpu >= 150


async def test_the_collectors_share_is_named(caplog: pytest.LogCaptureFixture) -> None:
    garbage = [[index] for index in range(300_000)]  # enough live objects for a full pass to take a while

    def collect() -> None:
        gc.collect()
        time.sleep(0.05)  # a stall even if the machine collects quickly

    _, _, collector = await _stall_with(collect, caplog)
    assert collector > 0
    del garbage


async def test_short_pauses_and_a_stopped_watch_say_nothing(caplog: pytest.LogCaptureFixture) -> None:
    watch = LoopWatch(warn_after_ms=500)
    with caplog.at_level(logging.WARNING, logger="bot.loop_watch"):
        watch.start()
        hold_the_loop(0.05)
        await asyncio.sleep(0.05)
        await watch.stop()
        hold_the_loop(0.6)
        await asyncio.sleep(0.05)
    assert "stalled" not in caplog.text
    assert all(callback.__qualname__ != "_Collections.on_gc" for callback in gc.callbacks)


async def test_zero_turns_the_watch_off(caplog: pytest.LogCaptureFixture) -> None:
    watch = LoopWatch(warn_after_ms=0)
    with caplog.at_level(logging.WARNING, logger="bot.loop_watch"):
        watch.start()
        await asyncio.sleep(0.02)
        hold_the_loop(0.1)
        await asyncio.sleep(0.05)
        await watch.stop()
    assert "stalled" not in caplog.text
