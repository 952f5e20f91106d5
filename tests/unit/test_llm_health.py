"""The circuit breaker and tool-support learning, on a hand-moved clock: no sleeping, no flakiness."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.llm import CallOutcome, LLMCircuitOpen, LLMError, LLMTimeout, LLMUnavailable, Usage
from handlers.llm_health import CircuitBreaker, CircuitState, ToolSupport

OPENED = datetime(2026, 11, 30, 9, 15, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, *, failures: int = 3, cooldown_s: float = 30.0) -> CircuitBreaker:
    return CircuitBreaker(failures=failures, cooldown_s=cooldown_s, clock=clock, now=lambda: OPENED)


def test_it_opens_after_the_failures_in_a_row_and_then_refuses_at_once() -> None:
    clock = Clock()
    circuit = breaker(clock)
    for _ in range(2):
        circuit.before_call()
        assert circuit.failed("connection refused") is False
    circuit.before_call()
    assert circuit.failed("connection refused") is True  # the third in a row opens it
    with pytest.raises(LLMCircuitOpen) as caught:
        circuit.before_call()
    error = caught.value
    assert isinstance(error, LLMUnavailable) and error.outcome == CallOutcome.SKIPPED
    assert error.attempts == 0 and error.accounting()["prompt_tokens"] == 0
    assert "failed 3 times in a row" in str(error) and "since 09:15:00 UTC" in str(error)
    assert "next try in 30 s" in str(error) and "connection refused" in str(error)
    snapshot = circuit.snapshot()
    assert (snapshot.state, snapshot.consecutive_failures, snapshot.opened_at, snapshot.times_opened) == (
        CircuitState.OPEN,
        3,
        OPENED,
        1,
    )


def test_a_success_in_between_resets_the_count() -> None:
    circuit = breaker(Clock())
    circuit.failed("boom")
    circuit.failed("boom")
    circuit.succeeded()
    circuit.failed("boom")
    circuit.failed("boom")
    circuit.before_call()  # still closed: never three in a row
    assert circuit.snapshot().state is CircuitState.CLOSED


def test_after_the_cooldown_one_trial_goes_through_and_its_success_closes_it() -> None:
    clock = Clock()
    circuit = breaker(clock, failures=1, cooldown_s=30)
    circuit.failed("timed out")
    clock.now += 29.9
    with pytest.raises(LLMCircuitOpen):
        circuit.before_call()
    clock.now += 0.2
    circuit.before_call()  # the trial
    assert circuit.snapshot().state is CircuitState.HALF_OPEN
    with pytest.raises(LLMCircuitOpen, match="a trial request is on its way"):
        circuit.before_call()  # only one at a time
    circuit.succeeded()
    circuit.before_call()
    snapshot = circuit.snapshot()
    assert (snapshot.state, snapshot.consecutive_failures, snapshot.opened_at) == (CircuitState.CLOSED, 0, None)


def test_a_failed_trial_opens_it_for_another_cooldown_without_counting_a_new_outage() -> None:
    clock = Clock()
    circuit = breaker(clock, failures=2, cooldown_s=10)
    circuit.failed("refused")
    assert circuit.failed("refused") is True
    clock.now += 10
    circuit.before_call()
    assert circuit.failed("refused again") is False
    with pytest.raises(LLMCircuitOpen, match="next try in 10 s"):
        circuit.before_call()
    assert circuit.snapshot().times_opened == 1
    assert circuit.snapshot().consecutive_failures == 3


def test_a_cancelled_trial_lets_the_next_call_try() -> None:
    clock = Clock()
    circuit = breaker(clock, failures=1, cooldown_s=5)
    circuit.failed("refused")
    clock.now += 5
    circuit.before_call()
    circuit.abandoned()  # the turn was cancelled mid-call: no verdict
    circuit.before_call()  # another trial, at once
    assert circuit.snapshot().state is CircuitState.HALF_OPEN


def test_calls_failing_after_it_opened_neither_reopen_nor_extend_it() -> None:
    clock = Clock()
    circuit = breaker(clock, failures=2, cooldown_s=10)
    circuit.failed("a")
    circuit.failed("b")
    clock.now += 6
    assert circuit.failed("c: sent before it opened") is False
    clock.now += 4
    circuit.before_call()  # the first cool-down still ends on time
    assert circuit.snapshot().times_opened == 1


@pytest.mark.parametrize(("failures", "cooldown"), [(0, 30.0), (3, 0.0)])
def test_nonsense_settings_are_refused(failures: int, cooldown: float) -> None:
    with pytest.raises(ValueError, match="failures >= 1"):
        CircuitBreaker(failures=failures, cooldown_s=cooldown)


def test_tools_are_given_up_after_replies_in_a_row_without_a_call() -> None:
    tools = ToolSupport(give_up_after=3)
    assert tools.known is None
    assert tools.replied(called_a_tool=False) is False
    assert tools.replied(called_a_tool=False) is False
    assert tools.replied(called_a_tool=True) is False  # a call resets the count, and tells us it can
    assert tools.known is True
    assert [tools.replied(called_a_tool=False) for _ in range(3)] == [False, False, True]
    assert tools.known is False and tools.reason == "3 replies in a row to requests offering tools called none"
    assert tools.replied(called_a_tool=False) is False  # said once


def test_a_probe_verdict_is_kept_with_its_reason() -> None:
    tools = ToolSupport()
    tools.probed(False, "it answered with text")
    assert (tools.known, tools.reason) == (False, "it answered with text")


def test_errors_say_how_to_count_them() -> None:
    timeout = LLMTimeout("slow", attempts=3, latency_ms=2000.0)
    assert timeout.accounting() == {
        "outcome": "timeout",
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0.0,
        "finish_reason": None,
        "latency_ms": 2000.0,
        "detail": "slow",
    }
    unusable = LLMError("no choices", usage=Usage(prompt_tokens=120, completion_tokens=30), cost_usd=None)
    assert (unusable.outcome, unusable.prompt_tokens, unusable.completion_tokens, unusable.cost_usd) == (
        "failed",
        120,
        30,
        None,
    )
    assert LLMUnavailable("refused").outcome == "unavailable"
