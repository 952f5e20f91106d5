"""Ingest throughput: the local embedder alone against the whole `Ingestor.ingest` pipeline."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.database import BenchServer
from bench.synthetic import Floats
from bot.services import open_services
from bot.settings import load_settings
from knowledge.chunking import chunk_document, extract_title
from knowledge.embedder import Embedder, LocalEmbedder, Vectors
from knowledge.ingest import IngestOptions, IngestSummary, discover
from knowledge.loaders import parse_file
from knowledge.models import chunk_context, embedding_input

_WORD_TEXT = (
    "account access admin alert api app archive audit backup billing browser cache card change channel "
    "check client cloud code config connect contact copy create customer dashboard data database date "
    "default delete device disable domain download edit email enable error event export field file filter "
    "folder form group guest help history host import install integration invoice issue key language "
    "license limit link list log login manager message migrate mobile monitor network notification option "
    "order owner page password payment permission phone plan policy port profile project proxy queue "
    "quota record region release report request reset restore role rule schedule search secret server "
    "service session setting share sign single site size space status storage subscription support sync "
    "team template tenant ticket time token trial update upgrade upload usage user version view webhook "
    "window workflow workspace zone"
)
_GLUE_TEXT = "the a your this each when after before if then to from with for by on in of and or not"
_WORDS = tuple(_WORD_TEXT.split())
_GLUE = tuple(_GLUE_TEXT.split())


@dataclass
class IngestRuns:
    files: int
    chunks: int
    batch_size: int
    embed_seconds: list[float] = field(default_factory=list)  # (a) embed_sync on the ingestor's texts
    ingest_seconds: list[float] = field(default_factory=list)  # (b) Ingestor.ingest into a fresh database
    no_model_seconds: list[float] = field(default_factory=list)  # (c) = (b) with the vectors precomputed
    chunks_written: int = 0

    @property
    def embed_rate(self) -> float:
        return self.chunks / statistics.median(self.embed_seconds)

    @property
    def ingest_rate(self) -> float:
        return self.chunks_written / statistics.median(self.ingest_seconds)

    @property
    def ratio(self) -> float:
        return self.ingest_rate / self.embed_rate

    @property
    def paired_ratios(self) -> list[float]:
        """(b)/(a) throughput of each run with the embed-only pass just before it."""
        return [a / b for a, b in zip(self.embed_seconds, self.ingest_seconds, strict=True)]

    @property
    def no_model_rate(self) -> float:
        return self.chunks_written / statistics.median(self.no_model_seconds)

    @property
    def implied_ratio(self) -> float:
        """(b)/(a) if ingest cost exactly embedding (a) plus the model-free pipeline (c)."""
        embed = statistics.median(self.embed_seconds)
        return embed / (embed + statistics.median(self.no_model_seconds))


def _sentence(rng: np.random.Generator) -> str:
    words = [
        str(_GLUE[int(rng.integers(len(_GLUE)))]) if rng.random() < 0.35 else _WORDS[int(rng.zipf(1.3)) % len(_WORDS)]
        for _ in range(int(rng.integers(8, 19)))
    ]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: np.random.Generator) -> str:
    return " ".join(_sentence(rng) for _ in range(int(rng.integers(2, 6))))


def write_markdown(folder: Path, files: int, *, seed: int) -> None:
    """Help-centre-like pages: a title, an intro and 1-3 sections, about 2-4 chunks each."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        topic = " ".join(_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), 2))
        parts = [f"# How to {topic} ({n})", _paragraph(rng)]
        for _ in range(int(rng.integers(1, 4))):
            heading = " ".join(_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), 2)).capitalize()
            parts.append(f"## {heading}")
            parts.extend(_paragraph(rng) for _ in range(int(rng.integers(1, 3))))
        (folder / f"page-{n:04d}.md").write_text("\n\n".join(parts) + "\n", encoding="utf-8")


def embedding_batches(folder: Path, *, batch_size: int, max_chars: int) -> list[list[str]]:
    """The texts `Ingestor` embeds for a first ingest of `folder`, grouped as its flushes group them."""
    summary = IngestSummary()
    batches: list[list[str]] = []
    pending: list[str] = []
    for source in discover([folder], summary):
        doc = parse_file(source.path, doc_key=source.doc_key, max_bytes=10_000_000)
        title = doc.meta.title or extract_title(doc.text) or source.doc_key
        chunks = chunk_document(doc.text, markup=doc.markup, title=title, max_chars=max_chars)
        pending += [embedding_input(chunk_context(title, chunk.heading_path), chunk.text) for chunk in chunks]
        if len(pending) >= batch_size * 4:
            batches.append(pending)
            pending = []
    if pending:
        batches.append(pending)
    return batches


class PrecomputedEmbedder:
    """Answers with vectors the local model already produced: ingest without the model's cost."""

    def __init__(self, model: LocalEmbedder, vectors: dict[str, Floats]) -> None:
        self._model = model
        self._vectors = vectors

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def dimension(self) -> int:
        return self._model.dimension

    async def embed(self, texts: list[str]) -> Vectors:
        return np.stack([self._vectors[text] for text in texts])


async def _ingest(server: BenchServer, name: str, embedder: Embedder, folder: Path) -> tuple[float, int]:
    """Seconds `Ingestor.ingest` takes for the folder into a fresh database, and chunks written."""
    settings = await server.fresh_database(name)
    options = IngestOptions(
        review_every=settings.review_interval, max_bytes=settings.max_file_bytes, max_chars=settings.chunk_max_chars
    )
    async with open_services(settings, embedder=embedder) as services:
        started = time.perf_counter()
        summary = await services.ingestor.ingest([folder], options)
        seconds = time.perf_counter() - started
    await server.drop_database(name)
    if summary.failed or summary.skipped:
        raise RuntimeError(f"ingest failed: {summary.failed or summary.skipped}")
    return seconds, summary.chunks_written


async def measure(server: BenchServer, folder: Path, *, files: int, repeats: int) -> IngestRuns:
    base = load_settings(supportbot_home=server.home, database_url=None)
    embedder = LocalEmbedder(batch_size=base.embedding_batch_size)
    batches = embedding_batches(folder, batch_size=base.embedding_batch_size, max_chars=base.chunk_max_chars)
    texts = [text for batch in batches for text in batch]
    # One untimed pass: loads the model and lets torch prepare its kernels for these batch shapes.
    vectors: dict[str, Floats] = {}
    for batch in batches:
        vectors.update(zip(batch, embedder.embed_sync(batch), strict=True))
    precomputed = PrecomputedEmbedder(embedder, vectors)
    runs = IngestRuns(files=files, chunks=len(texts), batch_size=base.embedding_batch_size)
    for run in range(repeats):
        started = time.perf_counter()
        for batch in batches:
            embedder.embed_sync(batch)
        runs.embed_seconds.append(time.perf_counter() - started)
        seconds, runs.chunks_written = await _ingest(server, f"bench_ingest_{run}", embedder, folder)
        runs.ingest_seconds.append(seconds)
        seconds, _ = await _ingest(server, f"bench_ingest_precomputed_{run}", precomputed, folder)
        runs.no_model_seconds.append(seconds)
    return runs
