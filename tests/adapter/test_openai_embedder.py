"""The OpenAI-compatible embedder against a local fake server over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from bot.providers.openai.embedder import OpenAIEmbedder
from knowledge.errors import EmbeddingFailed
from tests.fakes.openai_server import DIMENSION, FakeOpenAI, bag_of_words


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


def embedder(fake: FakeOpenAI, *, dimensions: int | None = None, batch_size: int = 2) -> OpenAIEmbedder:
    return OpenAIEmbedder(
        base_url=fake.base_url,
        api_key="sk-test",
        model="fake-embed",
        dimensions=dimensions,
        batch_size=batch_size,
        timeout=5,
        max_retries=1,
    )


async def test_probe_learns_the_dimension_and_embeddings_are_ordered_and_normalised(fake: FakeOpenAI) -> None:
    client = embedder(fake)
    assert await client.probe() == DIMENSION
    assert client.name == "openai:fake-embed"
    texts = ["refund my order", "reset my password", "refund policy", "shipping times", "hello"]
    vectors = await client.embed(texts)
    await client.close()
    assert vectors.shape == (5, DIMENSION)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    expected = np.asarray(bag_of_words(texts[2]), dtype=np.float32)
    assert np.allclose(vectors[2], expected / np.linalg.norm(expected))
    # five texts in batches of two: three calls after the probe
    assert [len(request["input"]) for request in fake.requests] == [1, 2, 2, 1]
    assert fake.api_keys[-1] == "Bearer sk-test"


async def test_server_errors_become_embedding_failed(fake: FakeOpenAI) -> None:
    fake.fail_with = 500
    client = embedder(fake, dimensions=DIMENSION)
    with pytest.raises(EmbeddingFailed, match="embeddings endpoint failed"):
        await client.embed(["anything"])
    await client.close()
    assert len(fake.requests) == 2  # the first try and one retry


async def test_a_missing_vector_is_refused(fake: FakeOpenAI) -> None:
    fake.drop_one = True
    client = embedder(fake, dimensions=DIMENSION)
    with pytest.raises(EmbeddingFailed, match="returned 1 vectors for 2 texts"):
        await client.embed(["one", "two"])
    await client.close()


async def test_a_wrong_configured_dimension_is_refused(fake: FakeOpenAI) -> None:
    client = embedder(fake, dimensions=128)
    with pytest.raises(EmbeddingFailed, match="EMBEDDING_DIMENSIONS says 128"):
        await client.embed(["one"])
    await client.close()
