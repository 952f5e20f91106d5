"""A witness for the machine itself: a process that has nothing to do with the bot, sleeps 1 ms at a time at
the web process's priority, and writes down every wake-up that came late, with the virtual machine's steal
and I/O-wait time each second.

A slow ack in a second when this probe was also kept off the CPU for ≥ `HOST_STALL_MS` says the machine
stalled (the hypervisor took the cores, or every core was busy), not the ack path. The bench reports the ack
p99 both over every second and over the seconds the probe ran on time, and lists the seconds it set apart.

Run alone: `python -m bench.host_probe OUT` (until SIGTERM).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SLEEP_S = 0.001
LATE_MS = 2.0  # wake-ups later than this are written down
HOST_STALL_MS = 10.0  # a second in which the probe woke this late is a stalled second
USER_HZ = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parent.parent


def _steal_and_iowait_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        fields = stat.readline().split()  # cpu user nice system idle iowait irq softirq steal …
    return int(fields[8]) if len(fields) > 8 else 0, int(fields[5])


def probe(out: Path) -> None:
    stop = False

    def ask_to_stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, ask_to_stop)
    signal.signal(signal.SIGINT, ask_to_stop)
    gc.disable()
    steal, iowait = _steal_and_iowait_jiffies()
    next_stat = time.monotonic() + 1.0
    with out.open("w") as lines:
        while not stop:
            before = time.perf_counter()
            time.sleep(SLEEP_S)
            late_ms = (time.perf_counter() - before - SLEEP_S) * 1000
            if late_ms >= LATE_MS:
                lines.write(json.dumps({"at": time.time(), "late_ms": round(late_ms, 2)}) + "\n")
            if time.monotonic() >= next_stat:
                next_stat += 1.0
                now_steal, now_iowait = _steal_and_iowait_jiffies()
                per_jiffy = 1000 / USER_HZ
                lines.write(
                    json.dumps(
                        {
                            "at": time.time(),
                            "steal_ms": (now_steal - steal) * per_jiffy,
                            "iowait_ms": (now_iowait - iowait) * per_jiffy,
                        }
                    )
                    + "\n"
                )
                lines.flush()
                steal, iowait = now_steal, now_iowait


@dataclass
class HostSamples:
    """What the probe wrote: late wake-ups and per-second steal / I/O wait, by wall-clock time."""

    late: list[tuple[float, float]] = field(default_factory=list)  # (time.time(), ms late)
    stat: list[tuple[float, float, float]] = field(default_factory=list)  # (time.time(), steal ms, iowait ms)

    @classmethod
    def read(cls, path: Path) -> HostSamples:
        samples = cls()
        try:
            text = path.read_text()
        except OSError:
            return samples
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # the last line, cut by the stop
            if "late_ms" in row:
                samples.late.append((row["at"], row["late_ms"]))
            else:
                samples.stat.append((row["at"], row["steal_ms"], row["iowait_ms"]))
        return samples

    def worst_late_ms(self, start: float, end: float) -> float:
        return max((ms for at, ms in self.late if start <= at < end), default=0.0)

    def steal_ms(self, start: float, end: float) -> float:
        # a stat row covers the second before it
        return sum(steal for at, steal, _ in self.stat if start < at <= end + 1.0)


@dataclass(frozen=True)
class StalledSecond:
    second: int  # into the run
    ack_p99_ms: float
    probe_late_ms: float
    steal_ms: float


@dataclass(frozen=True)
class SplitBySecond:
    """A run's acks split into the seconds the probe ran on time and those it did not."""

    p99_on_time_ms: float
    seconds: int
    stalled: list[StalledSecond]


def split_by_host(
    wall_start: float, ack_at_s: list[float], ack_ms: list[float], samples: HostSamples
) -> SplitBySecond | None:
    if not ack_ms or (not samples.late and not samples.stat):
        return None  # the probe did not run
    second, ms = np.asarray(ack_at_s).astype(int), np.asarray(ack_ms)
    keep = np.ones(ms.size, dtype=bool)
    stalled = []
    for s in sorted(set(second.tolist())):
        start = wall_start + s
        late = samples.worst_late_ms(start, start + 1.0)
        if late >= HOST_STALL_MS:
            keep &= second != s
            p99 = float(np.percentile(ms[second == s], 99))
            stalled.append(StalledSecond(s, p99, late, samples.steal_ms(start, start + 1.0)))
    on_time = ms[keep]
    p99 = float(np.percentile(on_time, 99)) if on_time.size else float("nan")
    return SplitBySecond(p99, len(set(second.tolist())), stalled)


class HostProbe:
    """The probe as a child process for the length of a `with` block."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "host-probe.jsonl"
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> HostProbe:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.host_probe", str(self.path), cwd=REPO
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()

    def samples(self) -> HostSamples:
        return HostSamples.read(self.path)


if __name__ == "__main__":
    probe(Path(sys.argv[1]))
