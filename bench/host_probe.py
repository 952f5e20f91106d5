"""A witness for the machine itself: a process that has nothing to do with the bot. It sleeps 1 ms at a time
at the web process's priority and writes down every wake-up that came late; a thread fdatasyncs 4 kB beside
the benchmark's files every 50 ms and writes down the slow ones; and each second it reads the virtual
machine's steal and I/O-wait time, the disk's counters (/proc/diskstats) and the dirty page cache.

A slow ack in a second when this probe was also kept off the CPU for ≥ `HOST_STALL_MS` says the machine
stalled (the hypervisor took the cores, or every core was busy), not the ack path. The bench reports the ack
p99 both over every second and over the seconds the probe ran on time, and lists the seconds it set apart
and those over the target beside what the probe saw (a slow witness fdatasync: the disk made commits wait).

Run alone: `python -m bench.host_probe OUT` (until SIGTERM).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SLEEP_S = 0.001
LATE_MS = 2.0  # wake-ups later than this are written down
HOST_STALL_MS = 10.0  # a second in which the probe woke this late is a stalled second
USER_HZ = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parent.parent


def _counters(device: str) -> dict[str, float]:
    """Cumulative counters of the machine and of the disk holding the bench's files."""
    with open("/proc/stat") as stat:
        cpu = stat.readline().split()  # cpu user nice system idle iowait irq softirq steal …
    per_jiffy = 1000 / USER_HZ
    counters = {"steal_ms": int(cpu[8]) * per_jiffy if len(cpu) > 8 else 0.0, "iowait_ms": int(cpu[5]) * per_jiffy}
    with open("/proc/diskstats") as disks:
        for line in disks:
            fields = line.split()
            if fields[2] == device:  # Documentation/admin-guide/iostats.rst: fields after the name
                counters["disk_writes"] = float(fields[7])
                counters["disk_write_ms"] = float(fields[10])
                counters["disk_discard_ms"] = float(fields[17]) if len(fields) > 17 else 0.0
                counters["disk_flush_ms"] = float(fields[19]) if len(fields) > 19 else 0.0
    return counters


def _dirty_mb() -> float:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("Dirty:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _device_of(folder: Path) -> str:
    number = os.stat(folder).st_dev
    wanted = f"{os.major(number)} {os.minor(number)}"
    with open("/proc/diskstats") as disks:
        for line in disks:
            fields = line.split()
            if f"{fields[0]} {fields[1]}" == wanted:
                return fields[2]
    return ""


def _fsync_witness(folder: Path, out: list[tuple[float, float]], stop: threading.Event) -> None:
    """Every 50 ms, 4 kB written and fdatasync'ed beside the benchmark's files: how long the disk made a
    commit wait, whoever else was writing."""
    path = folder / "host-probe-fsync"
    with path.open("wb") as witness:
        while not stop.wait(0.05):
            before = time.perf_counter()
            witness.seek(0)
            witness.write(os.urandom(4096))
            witness.flush()
            os.fdatasync(witness.fileno())
            took_ms = (time.perf_counter() - before) * 1000
            if took_ms >= LATE_MS:
                out.append((time.time(), round(took_ms, 2)))
    path.unlink(missing_ok=True)


def probe(out: Path) -> None:
    stopping = threading.Event()

    def ask_to_stop(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, ask_to_stop)
    signal.signal(signal.SIGINT, ask_to_stop)
    gc.disable()
    device = _device_of(out.parent)
    slow_fsyncs: list[tuple[float, float]] = []
    witness = threading.Thread(target=_fsync_witness, args=(out.parent, slow_fsyncs, stopping), daemon=True)
    witness.start()
    before = _counters(device)
    next_stat = time.monotonic() + 1.0
    with out.open("w") as lines:
        while not stopping.is_set():
            started = time.perf_counter()
            time.sleep(SLEEP_S)
            late_ms = (time.perf_counter() - started - SLEEP_S) * 1000
            if late_ms >= LATE_MS:
                lines.write(json.dumps({"at": time.time(), "late_ms": round(late_ms, 2)}) + "\n")
            if time.monotonic() >= next_stat:
                next_stat += 1.0
                now = _counters(device)
                row: dict[str, float] = {name: now[name] - before.get(name, 0.0) for name in now}
                row["dirty_mb"] = _dirty_mb()
                while slow_fsyncs:
                    at, took_ms = slow_fsyncs.pop(0)
                    lines.write(json.dumps({"at": at, "fsync_ms": took_ms}) + "\n")
                lines.write(json.dumps({"at": time.time(), **row}) + "\n")
                lines.flush()
                before = now
    witness.join(timeout=2)


@dataclass
class HostSamples:
    """What the probe wrote, by wall-clock time: late wake-ups, slow fsyncs of its witness file, and per
    second the machine's and the disk's counters."""

    late: list[tuple[float, float]] = field(default_factory=list)  # (time.time(), ms late)
    fsync: list[tuple[float, float]] = field(default_factory=list)  # (time.time(), ms the fdatasync took)
    stat: list[tuple[float, dict[str, float]]] = field(default_factory=list)  # (end of the second, counters)

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
            at = row.pop("at")
            if "late_ms" in row:
                samples.late.append((at, row["late_ms"]))
            elif "fsync_ms" in row:
                samples.fsync.append((at, row["fsync_ms"]))
            else:
                samples.stat.append((at, row))
        return samples

    @property
    def ran(self) -> bool:
        return bool(self.late or self.fsync or self.stat)

    def worst_late_ms(self, start: float, end: float) -> float:
        return max((ms for at, ms in self.late if start <= at < end), default=0.0)

    def worst_fsync_ms(self, start: float, end: float) -> float:
        return max((ms for at, ms in self.fsync if start <= at < end), default=0.0)

    def counters(self, start: float, end: float) -> dict[str, float]:
        """The counters of every probe second overlapping [start, end) (a row covers the second before it)
        summed, the dirty page cache at its largest."""
        total: dict[str, float] = {}
        for at, row in self.stat:
            if start < at < end + 1.0:
                for name, value in row.items():
                    total[name] = (
                        max(total.get(name, 0.0), value) if name == "dirty_mb" else total.get(name, 0.0) + value
                    )
        return total


@dataclass(frozen=True)
class HostSecond:
    """One second of a run beside what the probe saw in it."""

    second: int  # into the run
    ack_p99_ms: float
    probe_late_ms: float
    fsync_ms: float
    counters: dict[str, float]

    @property
    def stalled(self) -> bool:
        return self.probe_late_ms >= HOST_STALL_MS


@dataclass(frozen=True)
class SplitBySecond:
    """A run's acks split into the seconds the probe ran on time and those it did not."""

    p99_on_time_ms: float
    seconds: int
    noted: list[HostSecond]  # the stalled seconds, and those whose ack p99 was over the target

    @property
    def stalled(self) -> list[HostSecond]:
        return [second for second in self.noted if second.stalled]


def split_by_host(
    wall_start: float, ack_at_s: list[float], ack_ms: list[float], samples: HostSamples, *, target_ms: float
) -> SplitBySecond | None:
    if not ack_ms or not samples.ran:
        return None
    second, ms = np.asarray(ack_at_s).astype(int), np.asarray(ack_ms)
    keep = np.ones(ms.size, dtype=bool)
    noted = []
    for s in sorted(set(second.tolist())):
        start, end = wall_start + s, wall_start + s + 1.0
        this = HostSecond(
            s,
            float(np.percentile(ms[second == s], 99)),
            samples.worst_late_ms(start, end),
            samples.worst_fsync_ms(start, end),
            samples.counters(start, end),
        )
        if this.stalled:
            keep &= second != s
        if this.stalled or this.ack_p99_ms > target_ms:
            noted.append(this)
    on_time = ms[keep]
    p99 = float(np.percentile(on_time, 99)) if on_time.size else float("nan")
    return SplitBySecond(p99, len(set(second.tolist())), noted)


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
