"""The bot processes' event-loop stalls (bot/loop_watch.py log lines), summed per process role.

The bench turns the watch down to `STALL_MS`, so a slow ack can be set beside what held the web server's
loop: its own CPU work, garbage collection, or nothing at all (the process was not running).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

STALL_MS = 5
STALL = re.compile(r"stalled (?P<ms>\d+) ms: (?P<cpu>\d+) ms on CPU in this process, garbage collection (?P<gc>\d+) ms")


@dataclass
class Stalls:
    lengths_ms: list[int] = field(default_factory=list)
    cpu_ms: int = 0
    gc_ms: int = 0

    def add(self, line: str) -> bool:
        found = STALL.search(line)
        if found is None:
            return False
        self.lengths_ms.append(int(found["ms"]))
        self.cpu_ms += int(found["cpu"])
        self.gc_ms += int(found["gc"])
        return True

    @property
    def total_ms(self) -> int:
        return sum(self.lengths_ms)

    def describe(self) -> str:
        if not self.lengths_ms:
            return f"no stall of {STALL_MS} ms or more"
        ordered = sorted(self.lengths_ms)
        median = ordered[len(ordered) // 2]
        return (
            f"{len(ordered)} stalls ≥ {STALL_MS} ms, {self.total_ms} ms in all (median {median} ms, "
            f"longest {ordered[-1]} ms); the process was on CPU for {self.cpu_ms} ms of it, garbage collection "
            f"{self.gc_ms} ms; the rest it was not running (cores busy elsewhere) or waiting in a blocking call"
        )


def read_stalls(path: Path) -> Stalls:
    stalls = Stalls()
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return stalls
    for line in lines:
        stalls.add(line)
    return stalls
