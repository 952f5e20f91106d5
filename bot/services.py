"""Composition root: builds storage, embedder and knowledge services from one `Settings`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.executors import open_executors, require_executors
from bot.migrate import migrate
from bot.observe import observe_audit, observe_retrieval
from bot.providers.openai.embedder import OpenAIEmbedder
from bot.settings import EmbedderKind, Settings
from bot.storage import open_pool
from escalation import audit
from escalation.policy import load_policy
from escalation.service import Escalation
from handlers.eval_gate import ScenarioGate
from handlers.eval_history import EvalHistory
from knowledge.embedder import CachingEmbedder, Embedder, LocalEmbedder
from knowledge.fusion import FusionConfig
from knowledge.gaps import GapLog
from knowledge.ingest import Ingestor
from knowledge.search import HybridSearcher, SearchConfig
from knowledge.sources import KnowledgeSources
from knowledge.store import KnowledgeStore, Pool

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    pool: Pool
    embedder: Embedder
    store: KnowledgeStore
    searcher: HybridSearcher
    ingestor: Ingestor
    gaps: GapLog
    escalation: Escalation


async def build_embedder(settings: Settings) -> Embedder:
    if settings.embedder is EmbedderKind.LOCAL:
        return LocalEmbedder(batch_size=settings.embedding_batch_size, threads=settings.embedding_threads)
    if settings.embedding_api_key is None:
        from bot.settings import SettingsError

        raise SettingsError("EMBEDDING_API_KEY must be set when EMBEDDER=openai")
    embedder = OpenAIEmbedder(
        base_url=settings.embedding_base_url,
        api_key=settings.embedding_api_key.get_secret_value(),
        model=settings.embedding_model,
        dimensions=settings.embedding_dimensions,
        batch_size=settings.embedding_batch_size,
    )
    await embedder.probe()
    return embedder


def search_config(settings: Settings) -> SearchConfig:
    return SearchConfig(
        fusion=FusionConfig(
            method=settings.search_fusion,
            dense_weight=settings.search_dense_weight,
            rrf_k=settings.search_rrf_k,
            margin=settings.search_lexical_margin,
        ),
        candidates=settings.search_candidates,
        stale_weight=settings.stale_weight,
        lexical_max_df=settings.search_lexical_max_df,
    )


@asynccontextmanager
async def open_services(
    settings: Settings, *, embedder: Embedder | None = None, check_embedder: bool = True
) -> AsyncIterator[Services]:
    """Open the pool, apply migrations, and refuse to start with an embedder the data was not made with."""
    policy = load_policy(settings.policy_file)
    audit.add_listener(observe_audit)  # once per process, however many times services are opened
    async with open_pool(settings) as pool:
        await migrate(pool)
        async with open_executors(settings, pool) as executors:
            chosen = CachingEmbedder(embedder or await build_embedder(settings))
            store = KnowledgeStore(pool)
            if check_embedder:
                await store.ensure_embedding_space(chosen.name, chosen.dimension)
            escalation = Escalation(pool, policy, executors, lease=settings.lease)
            # promotion needs the workflow's scenarios to pass on what runs now (issue 16)
            escalation.autonomy.gate = ScenarioGate(
                EvalHistory(pool),
                policy,
                KnowledgeSources(pool),
                model=f"openai:{settings.llm_model}" if settings.llm_model else None,
            )
            try:
                yield Services(
                    settings=settings,
                    pool=pool,
                    embedder=chosen,
                    store=store,
                    searcher=HybridSearcher(pool, chosen, search_config(settings), observe=observe_retrieval),
                    ingestor=Ingestor(store, chosen, batch_size=settings.embedding_batch_size),
                    gaps=GapLog(pool, chosen, similarity=settings.gap_group_similarity),
                    escalation=escalation,
                )
            finally:
                await chosen.close()  # the cache passes it on to embedders that hold a client


@asynccontextmanager
async def open_serving_services(settings: Settings, *, check_embedder: bool = True) -> AsyncIterator[Services]:
    """`open_services` for the commands that serve customers or run actions (run, worker, chat, approvals
    propose/approve): they refuse to start when a policy action has nothing to run it."""
    async with open_services(settings, check_embedder=check_embedder) as services:
        escalation = services.escalation
        require_executors(escalation.policy, escalation.executors, policy_file=str(settings.policy_file))
        yield services
