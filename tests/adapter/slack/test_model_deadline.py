"""A model that hangs or trickles, through the real Slack app and turn worker: the customer still gets an
answer within the turn's model deadline (plus a margin), and the turn's decision record is saved with the
timed-out call counted. Before LLM_TURN_DEADLINE a hanging model cost 123 s per turn (the 60 s turn
time-out fired first and no record was saved) and a trickling one never finished."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from procrastinate import App
from pydantic import SecretStr

from bot.core_factory import build_language_model
from bot.providers.openai.chat import OpenAIChatModel
from bot.services import Services
from bot.settings import Settings
from handlers.decisions import DecisionStore, decision_id_for
from tests.adapter.slack.conftest import serve_slack, slack_settings
from tests.adapter.slack.harness import Rig
from tests.adapter.slack.waiting import thread
from tests.fakes.openai_server import FakeOpenAI, Hang, Reply, Trickle
from tests.fakes.slack_api import FakeSlack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
DEADLINE = 2.0
MARGIN = 10.0  # a loaded 2-core machine: well under the old behaviour, never a tight number


@pytest.fixture(scope="module")
def model_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def model_rig(
    prepared: Services, settings: Settings, fake: FakeSlack, queue: App, model_server: FakeOpenAI
) -> AsyncIterator[tuple[Rig, OpenAIChatModel]]:
    # the production defaults around the deadline: 20 s per attempt, 2 retries
    config = slack_settings(
        settings,
        fake,
        llm_base_url=model_server.base_url,
        llm_api_key=SecretStr("sk-test"),
        llm_model="gpt-test",
        llm_turn_deadline=DEADLINE,
        llm_timeout=20.0,
        llm_max_retries=2,
    )
    model = build_language_model(config)
    assert model is not None
    async with serve_slack(prepared, config, fake, queue, language_model=model) as rig:
        yield rig, model
    await model.close()


@pytest.mark.parametrize("stall", [Hang(), Trickle(0.5, Reply("Reset it on the sign-in page [1]."))], ids=repr)
async def test_a_stalled_model_still_gets_the_customer_an_answer_in_time(
    model_rig: tuple[Rig, OpenAIChatModel], model_server: FakeOpenAI, prepared: Services, stall: Any
) -> None:
    rig, _ = model_rig
    model_server.reset()
    model_server.script(stall)
    started = time.perf_counter()
    ts, response = await rig.message("How do I reset my password?", channel="C0ACME")
    assert response.status == 200
    [answer] = await thread(rig, "C0ACME", ts, timeout=DEADLINE + MARGIN)
    assert time.perf_counter() - started < DEADLINE + MARGIN
    assert "password" in answer.params["text"].lower()
    record = await DecisionStore(prepared.pool).get(decision_id_for("slack", f"msg:C0ACME:{ts}"))
    assert record is not None, "the turn's decision record was not saved"
    assert record.outcome == "answered"
    assert [(call["step"], call["outcome"]) for call in record.model_calls] == [
        ("routing", "timeout"),
        ("drafting", "timeout"),
    ]
    assert await model_server.disconnected() == [0]  # the abandoned request's connection was closed
