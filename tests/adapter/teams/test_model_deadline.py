"""A model that hangs or trickles, through the real Teams app (`/api/messages`) and turn worker: the customer
still gets an answer card within the turn's model deadline (plus a margin), and the decision record is saved
with the timed-out call counted. Before LLM_TURN_DEADLINE a hanging model cost 123 s per turn (the 60 s turn
time-out fired first and no record was saved) and a trickling one never finished."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.channels import ChannelStore
from bot.core_factory import build_core, build_language_model
from bot.services import Services
from handlers.core import Core
from handlers.decisions import DecisionStore
from knowledge.ingest import IngestOptions
from tests.adapter.teams.conftest import CASEY, INITECH_TENANT, Teams
from tests.conftest import empty_queue
from tests.fakes.openai_server import FakeOpenAI, Hang, Reply, Trickle

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
REPO = Path(__file__).resolve().parents[3]
DEADLINE = 2.0
MARGIN = 10.0  # a loaded 2-core machine: well under the old behaviour, never a tight number
_chats = itertools.count(1)


@pytest.fixture(scope="module")
def model_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def core(services: Services, model_server: FakeOpenAI) -> AsyncIterator[Core]:
    """This module's core (the `teams` fixture serves it): a model behind the fake, at production defaults
    around a 2 s deadline (20 s per attempt, 2 retries)."""
    await services.ingestor.ingest([REPO / "examples" / "acme"], IngestOptions())
    await ChannelStore(services.pool).bind("teams", INITECH_TENANT, "initech", bound_by="test")
    await empty_queue(services)
    config = services.settings.model_copy(
        update={
            "llm_base_url": model_server.base_url,
            "llm_api_key": SecretStr("sk-test"),
            "llm_model": "gpt-test",
            "llm_turn_deadline": DEADLINE,
            "llm_timeout": 20.0,
            "llm_max_retries": 2,
        }
    )
    model = build_language_model(config)
    assert model is not None
    yield await build_core(dataclasses.replace(services, settings=config), language_model=model)
    await model.close()


@pytest.mark.parametrize("stall", [Hang(), Trickle(0.5, Reply("Reset it on the sign-in page [1]."))], ids=repr)
async def test_a_stalled_model_still_gets_the_customer_an_answer_in_time(
    teams: Teams, model_server: FakeOpenAI, services: Services, stall: Any
) -> None:
    model_server.reset()
    model_server.script(stall)
    chat = f"a:deadline-{next(_chats)}"
    started = time.perf_counter()
    assert await teams.say(CASEY, "How do I reset my password?", conversation=chat) == 202  # waits for the turn
    assert time.perf_counter() - started < DEADLINE + MARGIN
    [answer] = teams.connector.posted(chat)
    assert "password" in answer.card_text().lower()
    decision = answer.card["actions"][0]["data"]["target"] if answer.card else None
    record = await DecisionStore(services.pool).get(decision or "")
    assert record is not None, "the turn's decision record was not saved"
    assert record.outcome == "answered"
    assert [(call["step"], call["outcome"]) for call in record.model_calls] == [
        ("routing", "timeout"),
        ("drafting", "timeout"),
    ]
    assert await model_server.disconnected() == [0]  # the abandoned request's connection was closed
