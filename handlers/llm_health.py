"""What one process knows about its model endpoint: a circuit breaker, and whether the model calls tools.

The breaker: after `failures` failures in a row (refused connections, time-outs, 5xx; not 4xx, which mean the
endpoint is there and answered) it opens, and calls fail at once with `LLMCircuitOpen` for `cooldown_s`
seconds, so a dead endpoint costs a turn no time. After the cool-down it is half-open: one call goes through
(the others still fail at once); its success closes the breaker, its failure opens it for another cool-down.

Tool support: unknown until the start-up probe says, and learned at run time too: when requests that offer
tools get `give_up_after` replies in a row without a tool call, or one refusal because of the tools, the
model does not call tools.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from handlers.llm import LLMCircuitOpen

log = logging.getLogger(__name__)

# ends the message of the failure that opened the circuit: the digest counts openings by it
CIRCUIT_OPENED = "the circuit opened"
# starts the message of a call the open circuit skipped: the digest counts these, rather than listing each
SKIPPED_CALL = "the LLM endpoint was not called"


class CircuitState(StrEnum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls fail at once until the cool-down is over
    HALF_OPEN = "half-open"  # one trial call is on its way; the others fail at once


@dataclass(frozen=True)
class BreakerSnapshot:
    state: CircuitState
    consecutive_failures: int
    opened_at: datetime | None  # when it last opened; None while closed
    times_opened: int  # from closed to open, since the process started (a failed trial is the same outage)
    last_error: str | None
    last_verdict_at: datetime | None  # when a call last succeeded or failed in this process


class CircuitBreaker:
    def __init__(
        self,
        *,
        failures: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if failures < 1 or cooldown_s <= 0:
            raise ValueError("a circuit breaker needs failures >= 1 and a cool-down > 0 s")
        self.failures = self._threshold = failures
        self.cooldown_s = self._cooldown = cooldown_s
        self._clock = clock
        self._now = now
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._retry_at = 0.0  # clock time the cool-down ends
        self._opened_at: datetime | None = None
        self._times_opened = 0
        self._last_error: str | None = None
        self._verdict_at: datetime | None = None

    def before_call(self) -> None:
        """Let a call through, or raise `LLMCircuitOpen` at once (no time spent, nothing sent)."""
        if self._state is CircuitState.CLOSED:
            return
        if self._state is CircuitState.OPEN and self._clock() >= self._retry_at:
            self._state = CircuitState.HALF_OPEN  # this call is the trial
            log.info("LLM circuit half-open: trying the endpoint again with one request")
            return
        wait = max(0.0, self._retry_at - self._clock())
        trial = " (a trial request is on its way)" if self._state is CircuitState.HALF_OPEN else ""
        raise LLMCircuitOpen(
            f"{SKIPPED_CALL}: it failed {self._failures} times in a row, so the circuit is open "
            f"since {_clock_time(self._opened_at)}{trial}; next try in {wait:.0f} s ({self._last_error})",
            attempts=0,
            latency_ms=0.0,
        )

    def succeeded(self) -> None:
        """The endpoint answered (a usable reply, a 4xx, an unusable body: it is there)."""
        if self._state is not CircuitState.CLOSED:
            log.info("LLM circuit closed: the endpoint answered again")
        self._state, self._failures, self._opened_at = CircuitState.CLOSED, 0, None
        self._verdict_at = self._now()

    def failed(self, error: str) -> bool:
        """The endpoint could not be reached, timed out or failed (5xx). True when this failure opened the circuit."""
        self._failures += 1
        self._last_error = error
        self._verdict_at = self._now()
        if self._state is CircuitState.OPEN:
            return False  # a call that was sent before the circuit opened
        if self._state is CircuitState.HALF_OPEN:
            self._state, self._retry_at = CircuitState.OPEN, self._clock() + self._cooldown
            log.warning("LLM circuit open again: the trial request failed (%s)", error)
            return False
        if self._failures < self._threshold:
            return False
        self._state, self._retry_at = CircuitState.OPEN, self._clock() + self._cooldown
        self._opened_at = self._now()
        self._times_opened += 1
        log.warning(
            "LLM circuit open: the endpoint failed %d times in a row (last: %s); turns go without the model for %g s",
            self._failures,
            error,
            self._cooldown,
        )
        return True

    def abandoned(self) -> None:
        """The trial call ended without a verdict (the turn was cancelled): let the next call try again."""
        if self._state is CircuitState.HALF_OPEN:
            self._state = CircuitState.OPEN
            self._retry_at = self._clock()

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(
            state=self._state,
            consecutive_failures=self._failures,
            opened_at=self._opened_at,
            times_opened=self._times_opened,
            last_error=self._last_error,
            last_verdict_at=self._verdict_at,
        )


class ToolSupport:
    """Whether the model calls tools: None until known."""

    def __init__(self, *, give_up_after: int = 5) -> None:
        if give_up_after < 1:
            raise ValueError("give_up_after must be at least 1")
        self._give_up_after = give_up_after
        self._without = 0  # replies in a row that offered tools and got none
        self.known: bool | None = None
        self.reason: str | None = None

    def probed(self, supported: bool | None, reason: str) -> None:
        self.known, self.reason = supported, reason

    def refused(self, reason: str) -> bool:
        """The endpoint refused a request because it offered tools. True when this is news."""
        news = self.known is not False
        self.known, self.reason = False, reason
        return news

    def replied(self, *, called_a_tool: bool) -> bool:
        """One reply to a request that offered tools. True when this reply made us stop offering them."""
        if called_a_tool:
            self._without = 0
            if self.known is None:
                self.known, self.reason = True, "the model called a tool"
            return False
        self._without += 1
        if self._without < self._give_up_after or self.known is False:
            return False
        self.known = False
        self.reason = f"{self._without} replies in a row to requests offering tools called none"
        return True


@dataclass(frozen=True)
class ModelHealth:
    """This process's view of the endpoint, for /healthz."""

    breaker: BreakerSnapshot
    supports_tools: bool | None
    tools_reason: str | None


def _clock_time(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S UTC") if at else "a moment ago"
