"""`python -m bench.slack_ack --pg-log PATH`: the benchmark's PostgreSQL server logs what can hold a commit up,
and its log (with when each write-ahead log segment was created) is kept for setting beside the ack p99 second by
second."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bench.database import admin_connection
from bot.settings import Settings

# what `--pg-log` turns on: slow statements (a COMMIT waiting on the WAL or on a lock shows), lock waits
# from 10 ms (which process held the lock), checkpoints and autovacuum runs, with times to set beside the
# ack p99 second by second
PG_DIAGNOSTICS = (
    "log_min_duration_statement = 25",
    "log_lock_waits = on",
    "deadlock_timeout = '10ms'",
    "log_checkpoints = on",
    "log_autovacuum_min_duration = 0",
    "log_line_prefix = '%m [%p] '",
)


async def turn_on(settings: Settings) -> None:
    async with await admin_connection(settings) as admin:
        for setting in PG_DIAGNOSTICS:
            await admin.execute(f"ALTER SYSTEM SET {setting}")
        await admin.execute("SELECT pg_reload_conf()")


def _append_wal_births(folder: Path, log_path: Path) -> None:
    """When each write-ahead log segment file was created (`stat %w`), to set beside slow commits: a fresh
    server creates (zero-fills and fsyncs) a segment per 16 MB of log, one that has checkpointed recycles old
    ones. Recycled files keep the name of their new place and the birth time of their first."""
    listing = subprocess.run(
        ["stat", "-c", "%w %n", *sorted(str(path) for path in folder.glob("0*"))],
        check=False,
        capture_output=True,
        text=True,
    )
    with log_path.open("a") as log_file:
        log_file.write("\n# pg_wal segment files, created at:\n" + listing.stdout)


def save(pgdata: Path, path: Path) -> None:
    """The server's log, and the segment files' birth times, copied to `path` before the server goes."""
    shutil.copy(pgdata / "log", path)
    _append_wal_births(pgdata / "pg_wal", path)
