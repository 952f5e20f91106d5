"""Turn latency of the conversation core with the offline answerer, against raw hybrid search in the same run.

Run alone with `python -m bench.core`, or as part of `python -m bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from bench.database import BenchServer
from bot.core_factory import build_core
from bot.services import open_services
from escalation.models import Actor, Role
from handlers.models import InboundMessage, Platform
from knowledge.embedder import CachingEmbedder
from knowledge.ingest import IngestOptions

REPO = Path(__file__).resolve().parent.parent
TARGET_P50_MS = 30.0
CUSTOMER = Actor("bench-customer", Role.CUSTOMER)
QUESTIONS = [
    "How long does standard shipping take?",
    "Do you ship to Canada?",
    "What is your return policy?",
    "How do I reset my password?",
    "My smart plug keeps going offline",
    "What does error E118 mean?",
    "How much is Acme Plus per year?",
    "Can I pay with PayPal?",
    "How do I turn on two-factor authentication?",
    "What are the API rate limits?",
    "How do I verify a webhook signature?",
    "Where can I download my invoice?",
    "How long do refunds take to reach my card?",
    "Can I change my delivery address?",
    "My parcel arrived damaged",
    "The firmware update is stuck",
    "How do I factory reset the hub?",
    "Do you charge VAT for EU businesses?",
    "Which items cannot be returned?",
    "How do I delete my account?",
]


@dataclass(frozen=True)
class CoreResult:
    turns: int
    search_ms: list[float]
    turn_ms: list[float]
    # each question once on a core built just before it: the answerer has seen none of its passages
    first_sight_ms: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.turn_ms) / statistics.median(self.search_ms)


def _p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(server: BenchServer, *, rounds: int = 5) -> CoreResult:
    settings = await server.fresh_database("bench_core")
    async with open_services(settings) as services:
        await services.ingestor.ingest([REPO / "examples" / "acme"], IngestOptions())
        core = await build_core(services)
        search_ms: list[float] = []
        turn_ms: list[float] = []
        for question in QUESTIONS:  # warm-up: model, caches, prepared statements
            await core.handle(InboundMessage(Platform.CLI, None, "bench:warm", CUSTOMER, question))
        cache = services.embedder
        assert isinstance(cache, CachingEmbedder)
        for round_number in range(rounds):
            for number, question in enumerate(QUESTIONS):
                cache.clear()  # both measurements embed the question once, as a new message would
                started = time.perf_counter()
                await services.searcher.search(question, org=None, limit=4, per_document=1)
                search_ms.append((time.perf_counter() - started) * 1000)
                cache.clear()
                started = time.perf_counter()
                await core.handle(
                    InboundMessage(Platform.CLI, None, f"bench:{round_number}:{number}", CUSTOMER, question)
                )
                turn_ms.append((time.perf_counter() - started) * 1000)
        first_sight_ms: list[float] = []
        for number, question in enumerate(QUESTIONS):
            fresh = await build_core(services)
            cache.clear()
            started = time.perf_counter()
            await fresh.handle(InboundMessage(Platform.CLI, None, f"bench:first:{number}", CUSTOMER, question))
            first_sight_ms.append((time.perf_counter() - started) * 1000)
    return CoreResult(len(turn_ms), search_ms, turn_ms, first_sight_ms)


def render(result: CoreResult) -> str:
    p50 = statistics.median(result.turn_ms)
    verdict = "**PASS**" if p50 <= TARGET_P50_MS else "**MISS**"
    return "\n".join(
        [
            "## Conversation core",
            "",
            f"{result.turns} customer turns (20 help-centre questions, 5 rounds) through `core.handle` with the "
            "offline router and answerer on the sample knowledge base, each right after the same question sent to "
            "raw hybrid search (the embedding cache is cleared before each, so both embed the question). A turn "
            "adds routing (on the same embedding: the search finds the router's vector in the cache), "
            "conversation state, turns, the decision record and a grounded reply on top of search. The offline "
            "answerer compares the units (rows, items, sentences) of the passages it reads with the question, with "
            "vectors stored at ingestion and kept in memory once read: the first-sight row asks each question once "
            "on a core built just before, which reads them from the database.",
            "",
            "| measure | p50 | p95 |",
            "|---|---|---|",
            f"| hybrid search alone (embedding the question included) | {statistics.median(result.search_ms):.1f} ms | "
            f"{_p(result.search_ms, 0.95):.1f} ms |",
            f"| one core turn | {p50:.1f} ms | {_p(result.turn_ms, 0.95):.1f} ms |",
            f"| one core turn, first sight of its passages (a new core, {len(result.first_sight_ms)} turns) | "
            f"{statistics.median(result.first_sight_ms):.1f} ms | {_p(result.first_sight_ms, 0.95):.1f} ms |",
            f"| turn ÷ search (medians) | {result.ratio:.2f}× | |",
            "",
            f"Target: turn p50 ≤ {TARGET_P50_MS:.0f} ms: {p50:.1f} ms {verdict}.",
        ]
    )


async def _main(rounds: int) -> None:
    server = BenchServer()
    try:
        print(render(await run(server, rounds=rounds)))
    finally:
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.core", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(_main(parser.parse_args().rounds))
