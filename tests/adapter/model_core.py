"""A core that asks a model on the local fake OpenAI server, over HTTP: shared by the core-with-model tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.core_factory import build_core
from bot.providers.openai.chat import OpenAIChatModel
from bot.services import Services
from handlers.core import Core
from handlers.llm import PriceTable
from knowledge.ingest import IngestOptions
from tests.fakes.openai_server import FakeOpenAI

REPO = Path(__file__).resolve().parents[2]
PRICES = "gpt-test=1/2"  # USD per million tokens in / out


@contextmanager
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def core_with_model(services: Services, fake: FakeOpenAI, *, seconds_per_call: float) -> AsyncIterator[Core]:
    """The sample knowledge base ingested, and a core whose model (no retries) is `fake`."""
    await services.ingestor.ingest([REPO / "examples" / "acme"], IngestOptions())
    model = OpenAIChatModel(
        base_url=fake.base_url,
        api_key="sk-test",
        model="gpt-test",
        timeout=seconds_per_call,
        max_retries=0,
        prices=PriceTable.parse(PRICES),
    )
    try:
        yield await build_core(services, language_model=model)
    finally:
        await model.close()


def model_core_fixtures(*, seconds_per_call: float) -> tuple[Any, Any]:
    """A test module's `fake` (the model server) and `core` fixtures, both module-scoped:
    `fake, core = model_core_fixtures(seconds_per_call=5)`."""

    @pytest.fixture(scope="module")
    def fake() -> Iterator[FakeOpenAI]:
        with fake_openai() as server:
            yield server

    @pytest.fixture(scope="module")
    async def core(services: Services, fake: FakeOpenAI) -> AsyncIterator[Core]:
        async with core_with_model(services, fake, seconds_per_call=seconds_per_call) as built:
            yield built

    return fake, core
