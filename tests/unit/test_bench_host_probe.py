"""The bench's host probe: which seconds of a run it sets apart as stalled, and the p99 over the rest."""

from __future__ import annotations

import json
from pathlib import Path

from bench.host_probe import HOST_STALL_MS, HostSamples, split_by_host

START = 1_000_000.0
TARGET = 15.0


def _run() -> tuple[list[float], list[float]]:
    """Three seconds of 100 acks each: second 1 slow (every ack 80 ms), the others 5 ms."""
    at = [second + i / 100 for second in range(3) for i in range(100)]
    ms = [80.0 if int(a) == 1 else 5.0 for a in at]
    return at, ms


def test_a_second_the_probe_woke_late_in_is_set_apart() -> None:
    at, ms = _run()
    samples = HostSamples(
        late=[(START + 1.4, HOST_STALL_MS + 30)],
        fsync=[(START + 1.5, 60.0), (START + 2.5, 3.0)],
        stat=[(START + 1.0, {"steal_ms": 0.0}), (START + 2.0, {"steal_ms": 40.0, "dirty_mb": 5.0})],
    )
    split = split_by_host(START, at, ms, samples, target_ms=TARGET)
    assert split is not None
    assert split.seconds == 3
    assert [s.second for s in split.stalled] == [1]
    stalled = split.stalled[0]
    assert stalled.ack_p99_ms == 80.0 and stalled.probe_late_ms == HOST_STALL_MS + 30
    assert stalled.fsync_ms == 60.0
    assert stalled.counters == {"steal_ms": 40.0, "dirty_mb": 5.0}
    assert split.p99_on_time_ms == 5.0


def test_a_slow_second_the_probe_saw_nothing_in_counts_and_is_noted() -> None:
    at, ms = _run()
    # late, but under the stall mark, in the slow second: the slow acks are charged to the bot
    samples = HostSamples(late=[(START + 1.4, HOST_STALL_MS - 1)], stat=[(START + 1.0, {"steal_ms": 0.0})])
    split = split_by_host(START, at, ms, samples, target_ms=TARGET)
    assert split is not None
    assert split.stalled == []
    assert [s.second for s in split.noted] == [1]
    assert split.p99_on_time_ms == 80.0


def test_no_probe_no_split() -> None:
    at, ms = _run()
    assert split_by_host(START, at, ms, HostSamples(), target_ms=TARGET) is None
    assert split_by_host(START, [], [], HostSamples(stat=[(START, {})]), target_ms=TARGET) is None


def test_the_probe_file_is_read_back_whatever_its_last_line(tmp_path: Path) -> None:
    lines = [
        {"at": START, "late_ms": 12.5},
        {"at": START + 0.5, "fsync_ms": 40.0},
        {"at": START + 1.0, "steal_ms": 10.0, "disk_writes": 7.0},
    ]
    path = tmp_path / "probe.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"at": 10')  # cut by the stop
    samples = HostSamples.read(path)
    assert samples.late == [(START, 12.5)]
    assert samples.fsync == [(START + 0.5, 40.0)]
    assert samples.stat == [(START + 1.0, {"steal_ms": 10.0, "disk_writes": 7.0})]
