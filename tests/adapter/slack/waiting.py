"""Polling helpers: the bot answers after the ack, so tests wait for what they expect to appear.

The fake records calls in another thread; polling is the honest way to wait for them (no event to await).
Every helper fails, saying what it waited for, when the time is up: a helper that returned what it had
would let a test pass without the bot having done anything.
"""

from __future__ import annotations

import asyncio
import inspect
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
    """The bot's posts in one thread once at least `count` arrived, after settling; fail if they do not.

    `count=0` waits for nothing but the turns: the way to ask for a thread the bot must leave empty.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(_in_thread(rig, channel, ts)) < count:
        if loop.time() > deadline:
            posts = [c.params.get("text") for c in _in_thread(rig, channel, ts)]
            raise AssertionError(
                f"waited {timeout} s for {count} post(s) in thread {channel}/{ts}; got {len(posts)}: {posts}"
            )
        await asyncio.sleep(0.02)
    await settle(rig)
    return _in_thread(rig, channel, ts)


def _describe(check: Any) -> str:
    name = getattr(check, "__qualname__", repr(check))
    if not str(name).endswith("<lambda>"):
        return str(name)
    try:
        return inspect.getsource(check).strip()
    except (OSError, TypeError):
        return name


async def until(check: Any, *, timeout: float = 5.0) -> Any:  # noqa: ASYNC109
    """Poll an async or plain callable until it returns something truthy, and return that; fail if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            what = _describe(check)
            raise AssertionError(f"waited {timeout} s for {what} to return something; last: {value!r}")
        await asyncio.sleep(0.02)
