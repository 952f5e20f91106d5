"""Builds the conversation core from opened services: the router learns the policy's example utterances."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.demo.backend import DemoQueries
from bot.observe import ObservedDecisions
from bot.providers.openai.chat import OpenAIChatModel
from bot.providers.openai.probe import probe_tools
from bot.services import Services
from bot.settings import Settings, SettingsError
from handlers.conversations import ConversationStore
from handlers.core import Core
from handlers.core_config import CoreConfig
from handlers.decisions import DecisionStore
from handlers.llm import LanguageModel, PriceTable
from handlers.llm_health import CircuitBreaker
from handlers.router import EmbeddingRouter
from handlers.workflow_turns import WorkflowTurns

log = logging.getLogger(__name__)


async def build_router(services: Services) -> EmbeddingRouter:
    examples = [
        (example, name)
        for name, workflow in services.escalation.policy.workflows.items()
        for example in workflow.examples
    ]
    router = EmbeddingRouter(services.embedder)
    await router.fit(examples)
    log.info("router learned %d examples for %d workflows", len(examples), len(router.labels))
    return router


def build_language_model(settings: Settings) -> OpenAIChatModel | None:
    if not settings.llm_model:
        return None
    if settings.llm_api_key is None and not settings.llm_base_url:
        raise SettingsError("LLM_MODEL needs LLM_API_KEY (or LLM_BASE_URL for a local server such as Ollama)")
    return OpenAIChatModel(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed",
        model=settings.llm_model,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        prices=PriceTable.parse(settings.llm_prices) if settings.llm_prices else PriceTable(),
        breaker=CircuitBreaker(failures=settings.llm_circuit_failures, cooldown_s=settings.llm_circuit_cooldown),
    )


async def start_language_model(settings: Settings) -> OpenAIChatModel | None:
    """The configured model, once the start-up probe has said whether it calls tools (it never stops start-up)."""
    model = build_language_model(settings)
    if model is not None:
        await probe_tools(model)
    return model


@asynccontextmanager
async def open_core(services: Services) -> AsyncIterator[Core]:
    """The core with the configured language model, closed on exit."""
    model = await start_language_model(services.settings)
    try:
        yield await build_core(services, language_model=model)
    finally:
        if model is not None:
            await model.close()


async def build_core(services: Services, *, language_model: LanguageModel | None = None, observed: bool = True) -> Core:
    """`observed=False` leaves the turns out of the metrics (bench/observability.py compares the two)."""
    conversations = ConversationStore(services.pool)
    directory = DemoQueries(services.pool) if services.settings.demo_backend else None
    return Core(
        searcher=services.searcher,
        gaps=services.gaps,
        escalation=services.escalation,
        decisions=ObservedDecisions(services.pool) if observed else DecisionStore(services.pool),
        conversations=conversations,
        router=await build_router(services),
        workflows=WorkflowTurns(services.escalation, conversations, directory=directory),
        language_model=language_model,
        unit_vectors=services.store,
        config=CoreConfig(
            model_deadline_s=services.settings.llm_turn_deadline, redact_for_model=services.settings.llm_redact_pii
        ),
    )
