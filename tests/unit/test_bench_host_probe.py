"""The bench's host probe: which seconds of a run it sets apart as stalled, and the p99 over the rest."""

from __future__ import annotations

from bench.host_probe import HOST_STALL_MS, HostSamples, split_by_host

START = 1_000_000.0


def _run() -> tuple[list[float], list[float]]:
    """Three seconds of 100 acks each: second 1 slow (every ack 80 ms), the others 5 ms."""
    at = [second + i / 100 for second in range(3) for i in range(100)]
    ms = [80.0 if int(a) == 1 else 5.0 for a in at]
    return at, ms


def test_a_second_the_probe_woke_late_in_is_set_apart() -> None:
    at, ms = _run()
    samples = HostSamples(late=[(START + 1.4, HOST_STALL_MS + 30)], stat=[(START + 2.0, 40.0, 0.0)])
    split = split_by_host(START, at, ms, samples)
    assert split is not None
    assert split.seconds == 3
    assert [s.second for s in split.stalled] == [1]
    stalled = split.stalled[0]
    assert stalled.ack_p99_ms == 80.0 and stalled.probe_late_ms == HOST_STALL_MS + 30
    assert stalled.steal_ms == 40.0
    assert split.p99_on_time_ms == 5.0


def test_a_slow_second_the_probe_saw_nothing_in_counts() -> None:
    at, ms = _run()
    # late, but under the stall mark, and in the slow second: the slow acks are the bot's own
    samples = HostSamples(late=[(START + 1.4, HOST_STALL_MS - 1)], stat=[(START + 1.0, 0.0, 0.0)])
    split = split_by_host(START, at, ms, samples)
    assert split is not None
    assert split.stalled == []
    assert split.p99_on_time_ms == 80.0


def test_no_probe_no_split() -> None:
    at, ms = _run()
    assert split_by_host(START, at, ms, HostSamples()) is None
    split = split_by_host(START, [], [], HostSamples(stat=[(START, 0.0, 0.0)]))
    assert split is None
