"""The host probe's findings as Markdown beside a run's ack latency (bench/host_probe.py measures them)."""

from __future__ import annotations

from bench.host_probe import HOST_STALL_MS, HostSamples, SplitBySecond, split_by_host
from bench.markdown import table
from bench.slack_load import Acks
from bench.slack_summary import fmt

HOST_COLUMNS = {
    "steal_ms": "VM steal ms",
    "iowait_ms": "I/O wait ms",
    "disk_writes": "disk writes",
    "disk_write_ms": "disk ms writing",
    "disk_flush_ms": "disk ms flushing",
    "disk_discard_ms": "disk ms discarding",
    "dirty_mb": "dirty page cache MB",
}


def split_of(acks: Acks, host: HostSamples, *, target_ms: float) -> SplitBySecond | None:
    """None for a run the probe did not watch (one without a wall-clock start, or no probe at all)."""
    if not acks.wall_start:
        return None
    return split_by_host(acks.wall_start, acks.ack_at_s, acks.ack_ms, host, target_ms=target_ms)


def on_time_note(split: SplitBySecond | None, *, target_ms: float) -> str:
    """For the verdict: the p99 over the seconds the probe ran on time, when it set any apart."""
    if split is None or not split.stalled:
        return ""
    on_time = split.p99_on_time_ms
    return (
        f" ({fmt(on_time)} ms {'pass' if on_time <= target_ms else 'miss'} over the "
        f"{split.seconds - len(split.stalled)} of {split.seconds} seconds the host probe ran on time)"
    )


def host_section(split: SplitBySecond | None, *, target_ms: float) -> list[str]:
    if split is None:
        return []
    text = (
        f"The host probe (`bench/host_probe.py`: a process unrelated to the bot, at the web process's priority, "
        f"sleeping 1 ms at a time, and fdatasync-ing 4 kB beside the benchmark's files every 50 ms) woke ≥ "
        f"{HOST_STALL_MS:.0f} ms late in {len(split.stalled)} of these {split.seconds} seconds"
    )
    if split.stalled:
        text += f"; over the other seconds the ack p99 is **{fmt(split.p99_on_time_ms)} ms**"
    if not split.noted:
        return ["", text + "."]
    rows = [
        (
            str(s.second) + (" (set apart)" if s.stalled else ""),
            fmt(s.ack_p99_ms),
            fmt(s.probe_late_ms),
            fmt(s.fsync_ms),
            *(f"{s.counters.get(name, 0.0):.0f}" for name in HOST_COLUMNS),
        )
        for s in split.noted
    ]
    return [
        "",
        text + f". The seconds set apart, and those with an ack p99 over {target_ms:.0f} ms (the machine's "
        "counters over the probe's seconds overlapping it):",
        "",
        *table(
            ("second", "ack p99 ms", "probe woke late by ms", "slowest witness fdatasync ms", *HOST_COLUMNS.values()),
            rows,
        ),
    ]
