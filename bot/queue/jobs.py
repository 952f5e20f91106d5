"""The turn queue: procrastinate's app, its one task, and how a failed turn is retried."""

from __future__ import annotations

from typing import Any

from procrastinate import App, JobContext, PsycopgConnector
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from psycopg import AsyncConnection

from bot.queue.store import DEFAULT_QUEUE, TURN_TASK
from bot.storage import share_our_priority
from handlers.turns import TurnRunner

RUNNER = "runner"
MAX_RETRY_WAIT_SECONDS = 30


class RetryForever(BaseRetryStrategy):
    """A turn is never given up: it failed because the database, the platform or this process did (a
    failing core already answers with an apology). Back off a little, up to half a minute; later turns
    of the same conversation wait behind it, so their order holds."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        return RetryDecision(retry_in={"seconds": min(MAX_RETRY_WAIT_SECONDS, 1 + 2 * job.attempts)})


async def run_turn(context: JobContext, event_id: int) -> None:
    runner: TurnRunner = context.additional_context[RUNNER]
    await runner.run(event_id)


async def _configure(conn: AsyncConnection[Any]) -> None:
    share_our_priority(conn)


def build_queue(database_url: str, *, max_connections: int = 4) -> App:
    """procrastinate's app on its own small pool (its LISTEN connection and job bookkeeping stay out of the
    turns' pool)."""
    connector = PsycopgConnector(conninfo=database_url, min_size=1, max_size=max_connections, configure=_configure)
    app = App(connector=connector)
    app.task(name=TURN_TASK, queue=DEFAULT_QUEUE, pass_context=True, retry=RetryForever())(run_turn)
    return app
