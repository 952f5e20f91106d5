"""The real core with a model server that misbehaves as real ones do (tests/fakes/openai_server.py), over real
HTTP: every turn still answers, within its deadline, and its decision record counts each model call.

Built the way `supportbot run` builds it: settings → `start_language_model` (with the start-up tool probe) or
`build_language_model` → `build_core`, whose `CoreConfig.model_deadline_s` is LLM_TURN_DEADLINE.
"""

from __future__ import annotations

import dataclasses
import itertools
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.core_factory import build_core, build_language_model, start_language_model
from bot.providers.openai.chat import OpenAIChatModel
from bot.services import Services
from escalation.models import Actor, Role
from handlers.core import NO_TOOLS_NOTE, Core
from handlers.decisions import DecisionRecord, DecisionStore
from handlers.llm_health import ToolSupport
from handlers.models import InboundMessage, Platform, Reply
from knowledge.ingest import IngestOptions
from tests.fakes.openai_server import Echo, FakeOpenAI, Hang, Trickle, Truncated, broken_arguments
from tests.fakes.openai_server import Reply as Say

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
REPO = Path(__file__).resolve().parents[2]
CUSTOMER = Actor("U-cust", Role.CUSTOMER)
QUESTION = "How do I reset my password?"
OFFLINE = "offline-grounded"  # the answerer that quotes passages: `record.model` names the reply's answerer
ROUTE_TO_ANSWER = Say(None, tool_calls=(("answer_question", "{}"),))
_turns = itertools.count(1)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_server(fake: FakeOpenAI) -> None:
    fake.reset()


@pytest.fixture(scope="module")
async def acme(services: Services) -> Services:
    await services.ingestor.ingest([REPO / "examples" / "acme"], IngestOptions())
    return services


MakeCore = Callable[..., Any]


@pytest.fixture
async def make_core(acme: Services, fake: FakeOpenAI) -> AsyncIterator[MakeCore]:
    """A core whose model points at `fake` (or `base_url`), configured through settings like production."""
    opened: list[OpenAIChatModel] = []

    async def make(*, probe: bool = False, **settings: Any) -> tuple[Core, OpenAIChatModel]:
        config = acme.settings.model_copy(
            update={
                "llm_base_url": fake.base_url,
                "llm_api_key": SecretStr("sk-test"),
                "llm_model": "gpt-test",
                "llm_max_retries": 0,
                "llm_prices": "gpt-test=1/2",
                **settings,
            }
        )
        model = await start_language_model(config) if probe else build_language_model(config)
        assert model is not None
        opened.append(model)
        core = await build_core(dataclasses.replace(acme, settings=config), language_model=model)
        return core, model

    yield make
    for model in opened:
        await model.close()


async def ask(core: Core, services: Services, text: str = QUESTION) -> tuple[Reply, DecisionRecord, float]:
    started = time.perf_counter()
    [reply, *_] = await core.handle(InboundMessage(Platform.CLI, None, f"failures:{next(_turns)}", CUSTOMER, text))
    elapsed = time.perf_counter() - started
    assert isinstance(reply, Reply)
    record = await DecisionStore(services.pool).get(reply.decision_id or "")
    assert record is not None, "the turn's decision record was not saved"
    return reply, record, elapsed


def offline_answer(reply: Reply, record: DecisionRecord) -> bool:
    """The customer got the passages quoted, with citations: the answer that needs no model."""
    return record.outcome == "answered" and record.model == OFFLINE and bool(reply.citations)


def calls(record: DecisionRecord) -> list[tuple[str, str]]:
    return [(call["step"], call["outcome"]) for call in record.model_calls]


@pytest.mark.parametrize("stall", [Hang(), Trickle(0.5, Say("Reset it from the sign-in page [1]."))], ids=repr)
async def test_a_stalled_model_costs_the_turn_its_deadline_and_the_customer_still_gets_an_answer(
    make_core: MakeCore, acme: Services, fake: FakeOpenAI, stall: Any
) -> None:
    core, _ = await make_core(llm_turn_deadline=2.0, llm_timeout=20.0, llm_max_retries=2)
    fake.script(stall)
    reply, record, elapsed = await ask(core, acme)
    assert elapsed < 10  # the old per-attempt time-outs: 3 × 20 s for routing, as much again for drafting
    assert offline_answer(reply, record)
    assert calls(record) == [("routing", "timeout"), ("drafting", "timeout")]
    routing, drafting = record.model_calls
    assert "within this turn's 2 s model deadline (1 attempt)" in routing["detail"]
    assert drafting["detail"].startswith("not sent: nothing was left of this turn's 2 s model deadline")
    assert len(fake.chat_requests) == 1  # the draft was never asked for
    assert await fake.disconnected() == [0]  # the abandoned request's connection was closed


async def test_a_draft_that_hangs_falls_back_to_quoting_after_a_model_routed_turn(
    make_core: MakeCore, acme: Services, fake: FakeOpenAI
) -> None:
    core, _ = await make_core(llm_turn_deadline=2.0, llm_timeout=20.0)
    fake.script(ROUTE_TO_ANSWER, Hang())
    reply, record, elapsed = await ask(core, acme)
    assert elapsed < 10
    assert offline_answer(reply, record)
    assert calls(record) == [("routing", "ok"), ("drafting", "timeout")]
    assert record.prompt_tokens == 12  # the routing reply's tokens; the abandoned draft had none to count


async def test_an_open_circuit_makes_turns_skip_the_model_at_no_cost(make_core: MakeCore, acme: Services) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    core, model = await make_core(
        llm_base_url=f"http://127.0.0.1:{port}/v1", llm_circuit_failures=2, llm_circuit_cooldown=600.0
    )
    reply, first, _ = await ask(core, acme)
    assert offline_answer(reply, first)
    assert calls(first) == [("routing", "unavailable"), ("drafting", "unavailable")]
    assert "the circuit opened" in first.model_calls[1]["detail"]  # the digest counts openings by this
    for _ in range(3):
        reply, record, elapsed = await ask(core, acme)
        assert offline_answer(reply, record)
        assert calls(record) == [("routing", "skipped"), ("drafting", "skipped")]
        assert elapsed < 5  # no connection attempt, no back-off
    assert "the LLM endpoint was not called: it failed 2 times in a row" in record.model_calls[0]["detail"]
    assert model.health().breaker.times_opened == 1


async def test_an_empty_draft_is_not_sent_and_its_tokens_are_counted(
    make_core: MakeCore, acme: Services, fake: FakeOpenAI
) -> None:
    core, _ = await make_core()
    fake.script(ROUTE_TO_ANSWER, Say("", usage=(700, 0)))
    reply, record, _ = await ask(core, acme)
    assert offline_answer(reply, record)
    drafting = record.model_calls[1]
    assert drafting["outcome"] != "ok" and drafting["prompt_tokens"] == 700
    assert record.prompt_tokens == 12 + 700


async def test_a_prompt_echo_never_reaches_the_customer(make_core: MakeCore, acme: Services, fake: FakeOpenAI) -> None:
    core, _ = await make_core()
    fake.script(ROUTE_TO_ANSWER, Echo())
    reply, record, _ = await ask(core, acme)
    assert offline_answer(reply, record)
    assert "Customer question" not in reply.text
    assert calls(record) == [("routing", "ok"), ("drafting", "rejected")]
    assert record.prompt_tokens == 12 + 900 and record.completion_tokens == 3 + 300


async def test_a_truncated_draft_is_not_sent(make_core: MakeCore, acme: Services, fake: FakeOpenAI) -> None:
    core, _ = await make_core()
    fake.script(ROUTE_TO_ANSWER, Truncated(60, "Use the reset link on the sign-in page [1] to set a new passw"))
    reply, record, _ = await ask(core, acme)
    assert offline_answer(reply, record)
    assert record.model_calls[1]["finish_reason"] == "length" and record.model_calls[1]["outcome"] != "ok"


async def test_broken_tool_arguments_are_never_used(make_core: MakeCore, acme: Services, fake: FakeOpenAI) -> None:
    core, _ = await make_core()
    fake.script(broken_arguments("refund"))
    reply, record, _ = await ask(core, acme, "I want a refund for order A-10231, it broke")
    assert "approve" not in reply.text.lower()
    assert record.approval_id is None
    assert {"tool": "refund", "arguments": "{", "source": "model"} in record.tool_calls
    assert calls(record)[0] == ("routing", "ok")


async def test_a_model_that_ignores_tools_stops_getting_routing_calls(
    make_core: MakeCore, acme: Services, fake: FakeOpenAI
) -> None:
    core, model = await make_core()
    model.tool_support = ToolSupport(give_up_after=2)
    fake.ignore_tools = True
    for _ in range(2):
        reply, record, _ = await ask(core, acme)
        assert offline_answer(reply, record)
        assert record.model_calls[0]["step"] == "routing"
    assert model.supports_tools is False
    before = len(fake.chat_requests)
    reply, record, _ = await ask(core, acme)
    sent = fake.chat_requests[before:]
    assert [bool(request.get("tools")) for request in sent] == [False]  # only the draft was asked for
    assert NO_TOOLS_NOTE in record.notes
    assert [call["step"] for call in record.model_calls] == ["drafting"]


async def test_the_start_up_probe_spares_every_turn_its_routing_call(
    make_core: MakeCore, acme: Services, fake: FakeOpenAI
) -> None:
    fake.reject_tools = "registry.ollama.ai/library/gemma:2b does not support tools"
    core, model = await make_core(probe=True)
    assert model.supports_tools is False
    assert len(fake.chat_requests) == 1  # the probe
    fake.script(Say("Use the reset link on the sign-in page [1]."))
    reply, record, _ = await ask(core, acme)
    assert NO_TOOLS_NOTE in record.notes
    assert [call["step"] for call in record.model_calls] == ["drafting"]
    assert all(not request.get("tools") for request in fake.chat_requests[1:])
    assert reply.text  # answered either way
