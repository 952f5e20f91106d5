"""Polling helpers: the bot answers after the ack, so tests wait for what they expect to appear.

The fake records calls in another thread; polling is the honest way to wait for them (no event to await).
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.adapter.slack.harness import Rig
from tests.conftest import turns_finished
from tests.fakes.slack_api import Call


async def settle(rig: Rig) -> None:
    """Wait until every stored event's turn has finished; fail if one does not."""
    await turns_finished(rig.pool)


def _in_thread(rig: Rig, channel: str, ts: str) -> list[Call]:
    return [
        c
        for c in rig.fake.calls_to("chat.postMessage")
        if c.params.get("channel") == channel and c.params.get("thread_ts") == ts and c.status == 200
    ]


async def thread(rig: Rig, channel: str, ts: str, *, count: int = 1, timeout: float = 5.0) -> list[Call]:  # noqa: ASYNC109
    """The bot's posts in one thread, once at least `count` arrived (or the time is up), after settling."""
    deadline = asyncio.get_running_loop().time() + timeout
    while len(_in_thread(rig, channel, ts)) < count and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    await settle(rig)
    return _in_thread(rig, channel, ts)


async def until(check: Any, *, timeout: float = 5.0) -> Any:  # noqa: ASYNC109
    """Poll an async or plain callable until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.02)
