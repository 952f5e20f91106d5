"""Embeddings from any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, Ollama, vLLM)."""

from __future__ import annotations

import numpy as np
import openai

from knowledge.embedder import Vectors, normalise
from knowledge.errors import EmbeddingFailed


class OpenAIEmbedder:
    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str,
        model: str,
        dimensions: int | None,
        batch_size: int = 64,
        timeout: float = 30.0,
        max_retries: int = 3,
    ) -> None:
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)
        self._model = model
        self._dimensions = dimensions
        self._batch_size = batch_size

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    @property
    def dimension(self) -> int:
        if self._dimensions is None:
            raise EmbeddingFailed("call `probe()` first or set EMBEDDING_DIMENSIONS")
        return self._dimensions

    async def probe(self) -> int:
        """Learn the vector size from the endpoint when the settings do not give it."""
        if self._dimensions is None:
            self._dimensions = int((await self._embed_batch(["dimension probe"])).shape[1])
        return self._dimensions

    async def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [
            await self._embed_batch(texts[i : i + self._batch_size]) for i in range(0, len(texts), self._batch_size)
        ]
        vectors = np.concatenate(parts)
        if self._dimensions is not None and vectors.shape[1] != self._dimensions:
            raise EmbeddingFailed(
                f"the endpoint returned {vectors.shape[1]}-dimensional vectors, EMBEDDING_DIMENSIONS says "
                f"{self._dimensions}"
            )
        return vectors

    async def _embed_batch(self, texts: list[str]) -> Vectors:
        try:
            response = await self._client.embeddings.create(model=self._model, input=texts)
        except openai.OpenAIError as exc:
            raise EmbeddingFailed(f"embeddings endpoint failed: {exc}") from exc
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(texts):
            raise EmbeddingFailed(f"the endpoint returned {len(data)} vectors for {len(texts)} texts")
        return normalise(np.asarray([item.embedding for item in data], dtype=np.float32))

    async def close(self) -> None:
        await self._client.close()
