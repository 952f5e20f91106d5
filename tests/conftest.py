"""Shared fixtures: one embedded PostgreSQL+pgvector and Redis per test session, real embedder."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# the tests act on the sample company: its demo back end is opt-in (issue 13), here and in every bot they start
os.environ.setdefault("DEMO_BACKEND", "true")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from procrastinate import App

from bot.queue.runtime import open_queue
from bot.queue.worker import WorkerConfig
from bot.services import Services, open_services
from bot.settings import Settings, load_settings
from knowledge.embedder import LocalEmbedder
from knowledge.ingest import IngestOptions, IngestSummary

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("supportbot-home")


@pytest.fixture(scope="session")
def settings(session_home: Path) -> Settings:
    # DATABASE_URL / REDIS_URL from the environment switch to real servers; default is embedded.
    shared = [name for name in ("DATABASE_URL", "REDIS_URL") if os.environ.get(name)]
    if shared and int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        pytest.exit(f"{' and '.join(shared)} set: the test workers would empty each other's tables; run pytest -n 0")
    return load_settings(supportbot_home=session_home)


@pytest.fixture(scope="session")
def embedder() -> Iterator[LocalEmbedder]:
    # one torch thread, as the bot ships (EMBEDDING_THREADS=1): the suite runs on two pytest-xdist workers
    # over two cores, and torch's default pool (a thread per core) spins against the other worker
    yield LocalEmbedder(threads=1)


class RememberingEmbedder:
    """The real model's vectors, each text embedded once per test session: many modules load the same
    sample knowledge base into a freshly truncated database, and the model (~30 chunks/s here) was
    most of their set-up time. The vectors are the model's own, so nothing under test changes."""

    def __init__(self, inner: LocalEmbedder) -> None:
        self._inner = inner
        self._seen: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    async def embed(self, texts: list[str]) -> np.ndarray:
        new = list(dict.fromkeys(text for text in texts if text not in self._seen))
        if new:
            self._seen.update(zip(new, await self._inner.embed(new), strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._seen[text] for text in texts])


@pytest.fixture(scope="session")
async def services(settings: Settings, embedder: LocalEmbedder) -> AsyncIterator[Services]:
    async with open_services(settings, embedder=RememberingEmbedder(embedder)) as opened:
        yield opened


async def empty_knowledge_base(services: Services) -> None:
    async with services.pool.connection() as conn:
        await conn.execute("TRUNCATE kb_documents, kb_chunks, kb_gaps, kb_org_fusion RESTART IDENTITY CASCADE")


async def sample_company(services: Services, *more: Path) -> IngestSummary:
    """A knowledge base of the sample company's documents (and `more`) alone: whatever another module left
    (which module ran before this one depends on how pytest-xdist shares the files out) cannot move a result."""
    await empty_knowledge_base(services)
    return await services.ingestor.ingest([REPO / "examples" / "acme", *more], IngestOptions())


@pytest.fixture
async def kb(services: Services) -> AsyncIterator[Services]:
    """Services over an empty knowledge base."""
    await empty_knowledge_base(services)
    yield services


# Turn workers in tests: short polls; a lease long enough that a loaded machine does not pass for a dead worker.
TEST_WORKER = WorkerConfig(concurrency=4, grace=5.0, lease=10.0, heartbeat=1.0, poll=0.2)
_queues = itertools.count(1)


def own_queue(settings: Settings) -> tuple[Settings, WorkerConfig]:
    """A queue of its own for one test app, so a worker of another app alive in the same test session
    (a package-scoped rig, say) never takes its turns to its own fake platform."""
    name = f"test-{next(_queues)}"
    return settings.model_copy(update={"turn_queue": name}), dataclasses.replace(TEST_WORKER, queue=name)


@pytest.fixture(scope="session")
async def queue(services: Services, settings: Settings) -> AsyncIterator[App]:
    """The turn queue (procrastinate) on the session's database."""
    async with open_queue(settings) as opened:
        yield opened


async def empty_queue(services: Services) -> None:
    """No inbound event or turn job left over from another test module (whose platforms may be absent)."""
    async with services.pool.connection() as conn:
        await conn.execute("TRUNCATE inbound_events, inbound_deliveries, procrastinate_jobs CASCADE")


async def turns_finished(pool: Any, *, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    """Wait until every stored event's turn has finished (a worker answers after the ack); fail if not."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT count(*), max(last_error) FROM inbound_events WHERE state <> 'done'")
            waiting, error = await cur.fetchone() or (0, None)
        if not waiting:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{waiting} turn(s) still waiting after {timeout} s (last error: {error})")
        await asyncio.sleep(0.02)
