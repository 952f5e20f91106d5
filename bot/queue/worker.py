"""Runs queued turns in this process: procrastinate's worker, kept alive through database outages, plus a
rescuer that re-queues the turns a dead worker held (their conversation's lock with them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass

from procrastinate import App

from bot.queue.jobs import RUNNER
from bot.queue.store import DEFAULT_QUEUE, InboundStore
from handlers.turns import TurnRunner

log = logging.getLogger(__name__)

RESTART_AFTER_SECONDS = 2.0


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 8  # turns at once in this process; each holds a database connection while it runs
    grace: float = 20.0  # on shutdown, seconds running turns get to finish before they are re-queued
    lease: float = 30.0  # a worker silent this long is dead: its running turns are run again elsewhere
    heartbeat: float = 5.0
    poll: float = 2.0  # fallback when LISTEN/NOTIFY misses a job
    queue: str = DEFAULT_QUEUE  # TURN_QUEUE: deployments sharing one database keep their turns apart
    retention_days: int = 30  # INBOUND_RETENTION_DAYS: finished events are kept this long


class TurnWorker:
    def __init__(self, queue: App, runner: TurnRunner, store: InboundStore, config: WorkerConfig) -> None:
        self._queue = queue
        self.runner = runner
        self._store = store
        self._config = config
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    async def run(self) -> None:
        """Until cancelled. Cancelling takes no new turns, gives running ones `grace` seconds, and re-queues
        whatever is still running then (procrastinate retries turns aborted by a shutdown)."""
        rescuer = asyncio.create_task(self._rescue_forever(), name="rescue stalled turns")
        try:
            while True:
                try:
                    await self._queue.run_worker_async(
                        queues=[self._config.queue],
                        name=self.name,
                        concurrency=self._config.concurrency,
                        install_signal_handlers=False,  # `supportbot run`/`worker` own the signals
                        shutdown_graceful_timeout=self._config.grace,
                        additional_context={RUNNER: self.runner},
                        update_heartbeat_interval=self._config.heartbeat,
                        stalled_worker_timeout=self._config.lease,
                        fetch_job_polling_interval=self._config.poll,
                        delete_jobs="successful",
                    )
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # PostgreSQL went away under the worker: wait, then start again
                    log.warning("turn worker stopped (%s: %s); starting again shortly", type(exc).__name__, exc)
                    await asyncio.sleep(RESTART_AFTER_SECONDS)
        finally:
            rescuer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rescuer

    async def rescue(self) -> int:
        """Turns held by workers whose heartbeat stopped (SIGKILL, a lost machine) run again; returns how many.

        A stalled job keeps its conversation's lock (procrastinate lets one job per lock be `doing`), so
        until it is retried every later turn of that conversation waits behind it."""
        manager = self._queue.job_manager
        rescued = 0
        for job in await manager.get_stalled_jobs(queue=self._config.queue, seconds_since_heartbeat=self._config.lease):
            try:
                await manager.retry_job(job)
            except Exception as exc:  # another replica rescued it first
                log.debug("stalled turn job %s not retried here: %s", job.id, exc)
                continue
            rescued += 1
            log.warning(
                "turn job %s (conversation %s) was left running by a dead worker; queued again", job.id, job.lock
            )
        await manager.prune_stalled_workers(self._config.lease)
        orphans = await self._store.requeue_orphans(older_than_seconds=self._config.lease)
        if orphans:
            log.warning("%d stored event(s) had no queued turn; queued again", orphans)
        forgotten = await self._store.forget_done(older_than_days=self._config.retention_days)
        if forgotten:
            log.info("deleted %d finished inbound event(s) older than %d days", forgotten, self._config.retention_days)
        return rescued + orphans

    async def _rescue_forever(self) -> None:
        while True:
            try:
                await self.rescue()
            except Exception as exc:  # the database is down; the next pass tries again
                log.warning("could not look for stalled turns: %s", exc)
            await asyncio.sleep(max(1.0, self._config.lease / 3))
