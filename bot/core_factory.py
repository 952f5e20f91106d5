"""Builds the conversation core from opened services: the router learns the policy's example utterances."""

from __future__ import annotations

import logging

from handlers.router import EmbeddingRouter

from bot.services import Services
from escalation.demo_queries import DemoQueries
from handlers.conversations import ConversationStore
from handlers.core import Core
from handlers.decisions import DecisionStore
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


async def build_core(services: Services) -> Core:
    conversations = ConversationStore(services.pool)
    directory = DemoQueries(services.pool) if services.settings.demo_backend else None
    return Core(
        searcher=services.searcher,
        gaps=services.gaps,
        escalation=services.escalation,
        decisions=DecisionStore(services.pool),
        conversations=conversations,
        router=await build_router(services),
        workflows=WorkflowTurns(services.escalation, conversations, directory=directory),
    )
