from __future__ import annotations

import numpy as np

from knowledge.embedder import CachingEmbedder, Vectors


class CountingEmbedder:
    name, dimension = "fake", 2

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def embed(self, texts: list[str]) -> Vectors:
        self.calls.append(texts)
        return np.asarray([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


async def test_single_texts_are_embedded_once_and_batches_pass_through() -> None:
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner, size=2)
    first = await cache.embed(["hello"])
    assert np.array_equal(await cache.embed(["hello"]), first)
    await cache.embed(["a", "bb"])
    await cache.embed(["a", "bb"])
    assert inner.calls == [["hello"], ["a", "bb"], ["a", "bb"]]
    await cache.embed(["x"])
    await cache.embed(["y"])  # evicts "hello", the least recently used
    await cache.embed(["hello"])
    assert inner.calls[-1] == ["hello"]
    cache.clear()
    await cache.embed(["y"])
    assert inner.calls[-1] == ["y"]
    assert (cache.name, cache.dimension) == ("fake", 2)


async def test_texts_warmed_in_one_batch_are_then_served_one_by_one() -> None:
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner, size=8)
    await cache.warm(["where is my order", "refund please", "where is my order"])
    assert inner.calls == [["where is my order", "refund please"]]
    single = await cache.embed(["refund please"])
    assert single.shape == (1, 2) and single[0][0] == len("refund please")
    await cache.warm(["refund please"])  # nothing new: no call
    assert inner.calls == [["where is my order", "refund please"]]
