"""One turn embeds the customer's question once: the router, the search and the gap log share the vector.

The services and the core are composed as `supportbot run` composes them (`open_services`, `build_core`);
only the model is wrapped, to count what reaches it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core_factory import build_core
from bot.services import Services, open_services
from bot.settings import Settings
from escalation.models import Actor, Role
from handlers.core import Core
from handlers.models import InboundMessage, Platform, Reply
from knowledge.embedder import Embedder, LocalEmbedder, Vectors
from knowledge.ingest import IngestOptions
from tests.conftest import RememberingEmbedder

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
CUSTOMER = Actor("U-one-embedding", Role.CUSTOMER)


class CountingEmbedder:
    """Passes every call on and remembers the texts, as the model would see them."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.texts: list[str] = []

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    async def embed(self, texts: list[str]) -> Vectors:
        self.texts.extend(texts)
        return await self._inner.embed(texts)


@dataclass
class Rig:
    core: Core
    model: CountingEmbedder


@pytest.fixture(scope="module")
async def rig(services: Services, settings: Settings, embedder: LocalEmbedder) -> AsyncIterator[Rig]:
    await services.ingestor.ingest([REPO / "examples" / "acme"], IngestOptions())  # the session's vectors
    model = CountingEmbedder(RememberingEmbedder(embedder))
    async with open_services(settings, embedder=model) as counted:
        yield Rig(await build_core(counted), model)


@pytest.mark.parametrize(
    ("question", "outcome"),
    [
        ("How do I turn on two-factor authentication for my account?", "answered"),  # router + search
        ("What's the best lasagne recipe for a crowd of twelve?", "not_sure"),  # router + search + gap log
        ("Where is my order A-10231 right now?", "workflow"),  # router, then the order status workflow
    ],
)
async def test_a_turn_embeds_the_question_once(rig: Rig, question: str, outcome: str) -> None:
    rig.model.texts.clear()
    outbound = await rig.core.handle(InboundMessage(Platform.CLI, None, f"one-embedding:{outcome}", CUSTOMER, question))
    replies = [item for item in outbound if isinstance(item, Reply)]
    assert replies, outbound
    if outcome == "answered":
        assert replies[0].citations
    elif outcome == "not_sure":
        assert "rather not guess" in replies[0].text or "outside what I can help with" in replies[0].text
    assert rig.model.texts == [question]
