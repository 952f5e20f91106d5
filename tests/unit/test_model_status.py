"""How /healthz judges the model endpoint from recorded calls and this process's breaker: the newest evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.model_health import RecentCall, judge
from handlers.llm_health import BreakerSnapshot, CircuitState, ModelHealth

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def local(
    *,
    state: CircuitState = CircuitState.CLOSED,
    failures: int = 0,
    opened_at: datetime | None = None,
    heard: datetime | None = None,
    tools: bool | None = True,
) -> ModelHealth:
    snapshot = BreakerSnapshot(
        state, failures, opened_at, 1 if opened_at else 0, "refused" if failures else None, heard
    )
    return ModelHealth(snapshot, tools, "probe said so")


def call(seconds: int, outcome: str, detail: str | None = None) -> RecentCall:
    return RecentCall(T0 + timedelta(seconds=seconds), outcome, detail)


def test_recent_successes_are_ok_even_after_older_failures() -> None:
    status = judge([call(9, "ok"), call(9, "ok"), call(5, "timeout", "slow")], local(heard=T0))
    assert (status.status, status.consecutive_failures, status.last_error, status.seen_in) == (
        "ok",
        0,
        None,
        "recent turns",
    )
    assert status.problems() == [] and status.tools_supported is True


def test_a_run_of_failures_is_failing_and_names_the_newest_error() -> None:
    calls = [
        call(9, "timeout", "too slow"),
        call(9, "unavailable", "refused"),
        call(5, "failed", "HTTP 401"),
        call(1, "ok"),
    ]
    status = judge(calls, local())
    assert (status.status, status.consecutive_failures, status.last_error) == ("failing", 3, "too slow")
    assert status.problems() == ["model: failing, 3 failures in a row (last error: too slow); turns answer without it"]


def test_a_run_of_skipped_calls_is_an_open_circuit_since_the_first_skip() -> None:
    calls = [call(30, "skipped", "not called"), call(20, "skipped"), call(10, "unavailable", "refused"), call(1, "ok")]
    status = judge(calls, local())  # this web process never opened its own breaker: the turns' records tell
    assert status.status == f"circuit open since {(T0 + timedelta(seconds=20)).isoformat()}"
    assert (status.consecutive_failures, status.last_error) == (1, "refused")


def test_this_process_decides_when_it_heard_from_the_endpoint_after_the_last_recorded_turn() -> None:
    opened = T0 + timedelta(seconds=50)
    status = judge(
        [call(9, "ok")], local(state=CircuitState.OPEN, failures=3, opened_at=opened, heard=opened, tools=None)
    )
    assert (status.status, status.consecutive_failures, status.seen_in) == (
        f"circuit open since {opened.isoformat()}",
        3,
        "this process",
    )
    assert status.tools_supported is None


def test_without_records_or_calls_it_is_ok() -> None:
    status = judge([], local())
    assert (status.status, status.seen_in, status.ok) == ("ok", "this process", True)
