"""The turn policy every front end shares (Slack, Teams, the terminal).

A durable inbound event is run by `TurnRunner.run`, from a queue, at least once: a crash or a deploy
re-runs it. Its effects happen once all the same: the decision is keyed by the event (a re-run finds
what the first attempt decided), the decided items are stored before they are sent, and each item is
marked delivered as it goes out. Whatever fails, the customer hears something true: an answer, or
"a person will follow up" backed by a hand-off that exists. If not even that can be stored, the event
stays queued and is tried again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from opentelemetry.context import Context

from handlers.core import Core
from handlers.decisions import decision_id_for
from handlers.models import InboundMessage, Outbound, Unbound
from handlers.outbound_codec import decode, encode
from handlers.tracing import context_from, log_context, tracer

log = logging.getLogger(__name__)

TURN_TIMEOUT_SECONDS = 60.0  # a turn slower than this is a failure: the customer hears from a person instead
# A turn waits until its conversation has stored nothing new for this long: follow-ups seconds apart are
# unaffected, and a burst of one customer's messages is answered in the order they were sent.
SETTLE_SECONDS = 0.15


class TurnError(Exception):
    """A queued turn could not be run here (its platform is not configured in this process)."""


@dataclass(frozen=True)
class QueuedTurn:
    id: int
    platform: str
    event_key: str
    conversation_key: str
    payload: dict[str, Any]
    state: str  # queued | decided | done
    outbound: list[dict[str, Any]] | None
    attempts: int
    traceparent: str | None = None  # the trace of the request that stored it (W3C), continued by its turn
    received_at: datetime | None = None


class TurnLedger(Protocol):
    """Where inbound events wait and record how far their turn got (PostgreSQL)."""

    async def begin(self, event_id: int) -> QueuedTurn | None:
        """The earliest unfinished event (by when the customer sent it) of `event_id`'s conversation."""
        ...

    async def quiet_for(self, event_id: int) -> float:
        """Seconds since `event_id`'s conversation last stored an event."""
        ...

    async def decided(self, event_id: int, outbound: list[dict[str, Any]]) -> None: ...
    async def delivered_items(self, event_id: int) -> set[int]: ...
    async def delivered(self, event_id: int, item: int) -> None: ...
    async def done(self, event_id: int) -> None: ...
    async def failed(self, event_id: int, error: str) -> None: ...


@dataclass(frozen=True)
class ItemKey:
    """One decided item of one inbound event: what a platform tags a sent message with."""

    event_id: int
    item: int


class PlatformTurn(Protocol):
    """One stored event, seen through its platform."""

    async def inbound(self) -> InboundMessage | Unbound | None:
        """Who wrote what, for which org; `Unbound` where no org is bound; None when it is not for the bot."""
        ...

    async def deliver(self, item: Outbound, key: ItemKey) -> None:
        """Send one item. An item the platform refuses is kept in the outbox by the platform's sender (and
        retried there); this raises only when not even that was possible."""
        ...

    async def sent_before(self, item: Outbound, key: ItemKey) -> bool:
        """On a re-run: did an earlier attempt send this item after all (it died before marking it)?"""
        ...


class Frontend(Protocol):
    async def open_turn(self, payload: dict[str, Any], body: Callable[[PlatformTurn], Awaitable[None]]) -> None:
        """Run `body` with the event as this platform sees it (Teams needs a turn context around it)."""
        ...


class OnceLedger(Protocol):
    async def first_time(self, platform: str, key: str) -> bool: ...


class TurnRunner:
    def __init__(
        self,
        core: Core,
        ledger: TurnLedger,
        frontends: Mapping[str, Frontend],
        *,
        once: OnceLedger,
        timeout: float = TURN_TIMEOUT_SECONDS,
        settle: float = SETTLE_SECONDS,
    ) -> None:
        self._core = core
        self._ledger = ledger
        self._frontends = frontends
        self._once = once
        self.timeout = timeout  # seconds; public so an operator's test can make every turn time out
        self._settle = settle

    async def run(self, event_id: int) -> None:
        """Run the next turn of `event_id`'s conversation: its earliest unfinished event by the customer's
        clock (usually `event_id` itself; see `TurnLedger.begin`)."""
        quiet = await self._ledger.quiet_for(event_id)
        if quiet < self._settle:
            # a message sent just before may still be on its way in (a retry at another replica, a commit
            # that lands a millisecond later): give it the moment it needs to be stored, so it goes first
            await asyncio.sleep(self._settle - quiet)
        turn = await self._ledger.begin(event_id)
        if turn is None or turn.state == "done":
            return  # the conversation's events were all finished by earlier jobs
        # the turn continues the trace of the request that stored its event, in whichever process it runs
        parent = context_from(turn.traceparent)
        with log_context(event_id=turn.event_key, conversation_key=turn.conversation_key):
            _queue_wait(turn, parent)
            with tracer.start_as_current_span("turn", context=parent) as span:
                span.set_attributes(
                    {
                        "supportbot.platform": turn.platform,
                        "supportbot.attempt": turn.attempts,
                        "supportbot.event": turn.id,
                    }
                )
                await self._run_traced(turn)

    async def _run_traced(self, turn: QueuedTurn) -> None:
        frontend = self._frontends.get(turn.platform)
        try:
            if frontend is None:
                raise TurnError(f"this process has no {turn.platform} front end configured for event {turn.id}")
            await frontend.open_turn(turn.payload, lambda platform_turn: self._run(turn, platform_turn))
        except Exception as exc:
            log.exception("turn for inbound event %s (%s) failed; it stays queued", turn.id, turn.conversation_key)
            try:
                await self._ledger.failed(turn.id, f"{type(exc).__name__}: {exc}"[:500])
            except Exception:  # the database is what failed; the queue retries the job
                log.warning("could not record the failure of inbound event %s", turn.id)
            raise

    async def _run(self, turn: QueuedTurn, platform_turn: PlatformTurn) -> None:
        if turn.outbound is not None:
            items = decode(turn.outbound)
        else:
            items = await self._decide(turn, platform_turn)
            await self._ledger.decided(turn.id, encode(items))
        sent = await self._ledger.delivered_items(turn.id)
        for index, item in enumerate(items):
            if index in sent:
                continue
            key = ItemKey(turn.id, index)
            # only a re-run can find an item sent but not marked (a crash between the two)
            if turn.attempts > 1 and await platform_turn.sent_before(item, key):
                log.info("item %d of inbound event %s was sent before a restart; not sending it again", index, turn.id)
            else:
                await platform_turn.deliver(item, key)
            await self._ledger.delivered(turn.id, index)
        await self._ledger.done(turn.id)

    async def _decide(self, turn: QueuedTurn, platform_turn: PlatformTurn) -> list[Outbound]:
        decision_id = decision_id_for(turn.platform, turn.event_key)
        earlier = await self._core.decided_items(decision_id)
        if earlier is not None:
            log.info("inbound event %s was decided before a restart; delivering what was decided", turn.id)
            return earlier
        org: str | None = None
        try:
            async with asyncio.timeout(self.timeout):
                found = await platform_turn.inbound()
                if found is None:
                    return []
                if isinstance(found, Unbound):
                    return await self._unbound(found)
                org = found.org
                if await self._core.started(decision_id):
                    # an earlier attempt died inside the core: what it did is unknown, so a person takes over
                    return await self._core.apologise(
                        turn.conversation_key,
                        org=org,
                        reason="the bot was interrupted while answering (a restart)",
                        dedupe_key=f"interrupted:{decision_id}",
                    )
                return await self._core.handle(replace(found, decision_id=decision_id))
        except Exception as exc:  # time-outs, outages, bugs: tell the customer, bring in a person
            log.exception("turn in %s failed", turn.conversation_key)
            return await self._core.apologise(
                turn.conversation_key, org=org, reason=failure_reason(exc), dedupe_key=f"failed:{decision_id}"
            )

    async def _unbound(self, unbound: Unbound) -> list[Outbound]:
        reply = not unbound.reply_once_per_conversation or await self._once.first_time(
            unbound.platform.value, f"unbound-thread:{unbound.conversation_key}"
        )
        return await self._core.unbound(unbound, reply=reply)


async def answer_now(core: Core, inbound: InboundMessage, *, seconds: float = TURN_TIMEOUT_SECONDS) -> list[Outbound]:
    """The same policy for a front end with nobody else waiting (the terminal): a time-limited turn that
    ends in an answer or an apology with a hand-off."""
    with tracer.start_as_current_span("turn") as span, log_context(conversation_key=inbound.conversation_key):
        span.set_attribute("supportbot.platform", inbound.platform.value)
        try:
            async with asyncio.timeout(seconds):
                return await core.handle(inbound)
        except Exception as exc:
            log.exception("turn in %s failed", inbound.conversation_key)
            return await core.apologise(inbound.conversation_key, org=inbound.org, reason=failure_reason(exc))


def _queue_wait(turn: QueuedTurn, parent: Context | None) -> None:
    """A span from when the event was stored to now, when a worker took its turn."""
    if turn.received_at is None:
        return
    started = int(turn.received_at.timestamp() * 1e9)
    span = tracer.start_span("queue wait", context=parent, start_time=min(started, time.time_ns()))
    span.set_attribute("supportbot.attempt", turn.attempts)
    span.end()


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "the answer took too long"
    return f"an error ({type(exc).__name__})"
