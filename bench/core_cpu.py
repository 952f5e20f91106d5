"""CPU per answered question through `core.handle`, with the question embedded once per turn (as composed)
and, in the same run, with the search embedding it again (what sharing the vector saves).

Run alone with `python -m bench.core_cpu`, or as part of `python -m bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.core import CUSTOMER, QUESTIONS
from bench.database import BenchServer
from bench.slack_rig import CLOSERS, NAMES, OPENERS, load_average
from bot.core_factory import build_core
from bot.services import open_services, search_config
from handlers.core import Core
from handlers.models import InboundMessage, Platform, Reply
from knowledge.embedder import Embedder, LocalEmbedder, Vectors
from knowledge.ingest import IngestOptions
from knowledge.search import HybridSearcher

REPO = Path(__file__).resolve().parent.parent
WARMUP = 20
SHARED = "one embedding per turn (as composed)"
APART = "search embeds the question again"


class CountingEmbedder:
    """The model, counting the texts it is given."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.texts = 0

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    async def embed(self, texts: list[str]) -> Vectors:
        self.texts += len(texts)
        return await self._inner.embed(texts)


@dataclass
class Variant:
    name: str
    cpu_ms: list[float] = field(default_factory=list)  # answered turns only
    wall_ms: list[float] = field(default_factory=list)
    embedded: list[int] = field(default_factory=list)  # texts the model embedded, per answered turn
    turns: int = 0


@dataclass(frozen=True)
class CpuResult:
    variants: list[Variant]
    load_start: str
    load_end: str

    def variant(self, name: str) -> Variant:
        return next(variant for variant in self.variants if variant.name == name)


def texts(count: int, *, seed: int) -> list[str]:
    """Help-centre questions with varied greetings and sign-offs, all different: the embedding cache never
    answers for the model across turns, as with real messages."""
    every = [
        " ".join(part for part in (opener, question, closer, f"– {name}" if name else "") if part)
        for opener, question, closer, name in itertools.product(OPENERS, QUESTIONS, CLOSERS, NAMES)
    ]
    random.Random(seed).shuffle(every)
    return every[:count]


async def _turn(core: Core, model: CountingEmbedder, variant: Variant, text: str, key: str) -> None:
    before_texts, cpu, wall = model.texts, time.process_time(), time.perf_counter()
    outbound = await core.handle(InboundMessage(Platform.CLI, None, key, CUSTOMER, text))
    cpu_ms, wall_ms = (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000
    variant.turns += 1
    if any(isinstance(item, Reply) and item.citations for item in outbound):
        variant.cpu_ms.append(cpu_ms)
        variant.wall_ms.append(wall_ms)
        variant.embedded.append(model.texts - before_texts)


async def run(server: BenchServer, *, turns: int = 200, seed: int = 7) -> CpuResult:
    """`turns` turns per variant, alternating between the variants so both see the same machine."""
    load_start = load_average()
    settings = await server.fresh_database("bench_core_cpu")
    model = CountingEmbedder(LocalEmbedder(batch_size=settings.embedding_batch_size))
    async with open_services(settings, embedder=model) as services:
        await services.ingestor.ingest([REPO / "examples" / "acme"], IngestOptions())
        # The counterfactual: the router still embeds through the shared cache, the search through the model.
        apart = dataclasses.replace(services, searcher=HybridSearcher(services.pool, model, search_config(settings)))
        cores = {SHARED: await build_core(services), APART: await build_core(apart)}
        variants = {name: Variant(name) for name in cores}
        questions = texts(2 * (turns + WARMUP), seed=seed)
        for number, text in enumerate(questions):
            name = (SHARED, APART)[number % 2]
            target = variants[name] if number >= 2 * WARMUP else Variant("warm-up")
            await _turn(cores[name], model, target, text, f"bench-cpu:{number}")
    return CpuResult(list(variants.values()), load_start, load_average())


def render(result: CpuResult) -> str:
    shared, apart = result.variant(SHARED), result.variant(APART)
    rows = []
    for variant in (shared, apart):
        rows.append(
            f"| {variant.name} | {len(variant.cpu_ms)} of {variant.turns} | "
            f"{statistics.mean(variant.embedded):.2f} | {statistics.median(variant.cpu_ms):.1f} | "
            f"{statistics.mean(variant.cpu_ms):.1f} | {statistics.median(variant.wall_ms):.1f} |"
        )
    saved = statistics.mean(apart.cpu_ms) - statistics.mean(shared.cpu_ms)
    return "\n".join(
        [
            "## CPU per answer (one embedding per turn)",
            "",
            f"{shared.turns + apart.turns} customer turns through `core.handle` (offline router and answerer, "
            "sample knowledge base, local all-MiniLM-L6-v2 on the CPU), alternating between two cores in one "
            "process: the core as `supportbot run` composes it, where the router, the search and the gap log "
            "share one caching embedder so the search finds the router's vector, and a core whose search "
            "embeds the question again. Texts are the help-centre questions with varied greetings and "
            "sign-offs, every one new. CPU is `time.process_time()` of the process around each `handle` (the "
            "embedding thread included, PostgreSQL's processes not); only answered turns (a reply with "
            f"citations) are counted, after {WARMUP} warm-up turns per core. Load average at the start "
            f"{result.load_start}, at the end {result.load_end}: on a busy machine torch's threads wait for "
            "the cores and every figure grows.",
            "",
            "| core | answered | model texts per answer | CPU ms p50 | CPU ms mean | wall ms p50 |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"Embedding the question once saves {saved:.1f} ms of CPU per answer (means). "
            "`tests/integration/test_one_embedding.py` fails if a turn embeds its question twice.",
        ]
    )


async def _main(turns: int) -> None:
    server = BenchServer()
    try:
        print(render(await run(server, turns=turns)))
    finally:
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.core_cpu", description=__doc__)
    parser.add_argument("--turns", type=int, default=200, help="turns per core")
    asyncio.run(_main(parser.parse_args().turns))
