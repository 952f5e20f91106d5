"""What PostgreSQL says about the turns: how many wait, which run, which apologies have a hand-off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tests.reliability.servers import EmbeddedPostgres
from tests.reliability.slack import CHANNEL


class Asked(Protocol):
    """A customer's message as a test sent it (a Slack event, a Teams activity): its turn's decision id."""

    @property
    def decision_id(self) -> str: ...


@dataclass(frozen=True)
class Backlog:
    stored: int  # inbound events in PostgreSQL
    waiting: int  # not done yet
    running: list[int]  # inbound event ids whose job is `doing`

    def line(self) -> str:
        return f"{self.stored} stored, {self.waiting} not answered yet, {len(self.running)} running"


async def backlog(db: EmbeddedPostgres) -> Backlog:
    rows = await db.execute(
        "SELECT count(*), count(*) FILTER (WHERE state <> 'done'), "
        "(SELECT coalesce(array_agg((args->>'event_id')::bigint), '{}') FROM procrastinate_jobs "
        "WHERE status = 'doing') FROM inbound_events"
    )
    stored, waiting, running = rows[0]
    return Backlog(int(stored), int(waiting), list(running))  # type: ignore[call-overload, arg-type]


async def running_turns(db: EmbeddedPostgres, *, limit: float = 120.0) -> Backlog:
    """The backlog once a turn is running: a new `supportbot run`'s worker child loads its models first (12 s
    on a loaded machine, longer beside another busy test worker), and a kill before that would test only that
    queued turns survive."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = await backlog(db)
        if found.running:
            return found
        await asyncio.sleep(0.05)
    return await backlog(db)


async def waiting(db: EmbeddedPostgres) -> int:
    rows = await db.execute("SELECT count(*) FROM inbound_events WHERE state <> 'done'")
    return int(rows[0][0])  # type: ignore[call-overload]


async def apology_handoffs(db: EmbeddedPostgres) -> set[str]:
    """Decision ids whose turn opened a hand-off because it failed (in the core: 'error:', around it:
    'failed:') or was interrupted by a crash ('interrupted:'): what makes an apology true."""
    rows = await db.execute(
        "SELECT split_part(dedupe_key, ':', 2) FROM handoffs "
        "WHERE split_part(dedupe_key, ':', 1) IN ('error', 'failed', 'interrupted')"
    )
    return {str(row[0]) for row in rows}


async def event_states(db: EmbeddedPostgres, ids: list[int]) -> dict[int, str]:
    rows = await db.execute("SELECT id, state FROM inbound_events WHERE id = ANY(%s)", ids)
    return {int(row[0]): str(row[1]) for row in rows}  # type: ignore[call-overload]


async def stuck_jobs(db: EmbeddedPostgres) -> int:
    """Turn jobs marked running: after a clean shutdown there must be none (else they wait for a lease)."""
    rows = await db.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'")
    return int(rows[0][0])  # type: ignore[call-overload]


async def event_keys(db: EmbeddedPostgres, ids: list[int]) -> set[str]:
    """The message ts of stored events."""
    rows = await db.execute("SELECT event_key FROM inbound_events WHERE id = ANY(%s)", ids)
    return {str(row[0]).removeprefix(f"msg:{CHANNEL}:") for row in rows}


async def customer_turns_out_of_order(db: EmbeddedPostgres, messages: Sequence[Asked]) -> list[str]:
    """Conversations whose customer turns were stored (their history) in a different order than asked."""
    position = {msg.decision_id: index for index, msg in enumerate(messages)}
    rows = await db.execute(
        "SELECT conversation_key, decision_id FROM turns WHERE role = 'customer' ORDER BY conversation_key, id"
    )
    order: dict[str, list[int]] = {}
    for key, decision in rows:
        if decision in position:
            order.setdefault(str(key), []).append(position[str(decision)])
    return [key for key, sequence in order.items() if sequence != sorted(sequence)]


async def thread_story(db: EmbeddedPostgres, thread: str) -> str:
    """How one thread's events were stored and run, for a failure message: stored order (event id), the
    message ts, when PostgreSQL received it, and when its turn finished."""
    return await conversation_story(db, f"slack:{CHANNEL}:{thread}")


async def conversation_story(db: EmbeddedPostgres, conversation_key: str) -> str:
    """The same for any conversation: event id, the end of its key, sent (platform clock), stored, finished."""
    rows = await db.execute(
        "SELECT id, event_key, to_char(sent_at, 'HH24:MI:SS.US'), to_char(received_at, 'HH24:MI:SS.MS'), "
        "to_char(finished_at, 'HH24:MI:SS.MS') FROM inbound_events WHERE conversation_key = %s ORDER BY id",
        conversation_key,
    )
    return "; ".join(
        f"event {event} …{str(key)[-6:]} sent {sent} stored {received} finished {finished}"
        for event, key, sent, received, finished in rows
    )
