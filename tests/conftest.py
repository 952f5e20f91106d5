"""Shared fixtures: one embedded PostgreSQL+pgvector and Redis per test session, real embedder."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bot.services import Services, open_services
from bot.settings import Settings, load_settings
from knowledge.embedder import LocalEmbedder

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("supportbot-home")


@pytest.fixture(scope="session")
def settings(session_home: Path) -> Settings:
    # DATABASE_URL / REDIS_URL from the environment switch to real servers; default is embedded.
    return load_settings(supportbot_home=session_home)


@pytest.fixture(scope="session")
def embedder() -> Iterator[LocalEmbedder]:
    yield LocalEmbedder()


@pytest.fixture(scope="session")
async def services(settings: Settings, embedder: LocalEmbedder) -> AsyncIterator[Services]:
    async with open_services(settings, embedder=embedder) as opened:
        yield opened


@pytest.fixture
async def kb(services: Services) -> AsyncIterator[Services]:
    """Services over an empty knowledge base."""
    async with services.pool.connection() as conn:
        await conn.execute("TRUNCATE kb_documents, kb_chunks, kb_gaps RESTART IDENTITY CASCADE")
    yield services
