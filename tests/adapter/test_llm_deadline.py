"""The model client against servers that misbehave the way real ones do, over real HTTP: one deadline for the
whole call, a circuit breaker, honest accounting of every attempt, and the start-up tool probe.

Wall-clock bounds here are "well under the old behaviour" (a hanging server cost 123 s per turn, a trickling
one never ended), never tight: the machine is shared and loaded.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from bot.providers.openai.chat import OpenAIChatModel
from bot.providers.openai.probe import probe_tools
from handlers.llm import (
    CallOutcome,
    Deadline,
    LLMBadResponse,
    LLMCircuitOpen,
    LLMTimeout,
    LLMToolsRefused,
    LLMUnavailable,
    Message,
    PriceTable,
    ToolSpec,
)
from handlers.llm_health import CircuitBreaker, CircuitState, ToolSupport
from tests.fakes.openai_server import Delay, FakeOpenAI, Hang, RawBody, Reply, Status, Trickle

pytestmark = pytest.mark.timeout(60)

QUESTION = [Message("user", "Where is my order?")]
TOOL = ToolSpec("order_status", "Look up an order", {"type": "object", "properties": {}})
MakeModel = Callable[..., OpenAIChatModel]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
async def make_model(fake: FakeOpenAI) -> AsyncIterator[MakeModel]:
    made: list[OpenAIChatModel] = []

    def make(**overrides: Any) -> OpenAIChatModel:
        options: dict[str, Any] = {"base_url": fake.base_url, "api_key": "sk-test", "model": "fake-chat"}
        # the old defaults: 20 s per attempt, 2 retries
        model = OpenAIChatModel(**({"timeout": 20.0, "max_retries": 2} | options | overrides))
        made.append(model)
        return model

    yield make
    for model in made:
        await model.close()


async def test_a_hanging_server_costs_the_deadline_not_three_attempt_timeouts(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    fake.script(Hang(), Hang(), Hang())
    started = time.perf_counter()
    with pytest.raises(LLMTimeout) as caught:
        await make_model().complete(QUESTION, deadline=Deadline(1.5))
    elapsed = time.perf_counter() - started
    assert elapsed < 8  # was 3 × 20 s and more
    error = caught.value
    assert "within this turn's 1.5 s model deadline (1 attempt); the request was abandoned" in str(error)
    assert (error.outcome, error.attempts, error.prompt_tokens) == (CallOutcome.TIMEOUT, 1, 0)
    assert error.latency_ms is not None and error.latency_ms >= 1400
    # the abandoned request's connection was closed: a single-slot local server stops working on it
    assert await fake.disconnected() == [0]


async def test_a_trickling_body_is_cut_off_at_the_deadline(fake: FakeOpenAI, make_model: MakeModel) -> None:
    fake.script(Trickle(0.3, Reply("Your order shipped yesterday.")))  # ~300 bytes: 90 s, and no read ever waits 20 s
    started = time.perf_counter()
    with pytest.raises(LLMTimeout, match="model deadline"):
        await make_model().complete(QUESTION, deadline=Deadline(1.5))
    assert time.perf_counter() - started < 8
    assert await fake.disconnected() == [0]


async def test_retries_happen_only_while_the_deadline_leaves_time(fake: FakeOpenAI, make_model: MakeModel) -> None:
    fake.script(*[Delay(30.0)] * 6)
    started = time.perf_counter()
    with pytest.raises(LLMTimeout) as caught:
        await make_model(timeout=0.5, max_retries=5).complete(QUESTION, deadline=Deadline(2.0))
    assert time.perf_counter() - started < 8  # six attempts of 0.5 s plus back-off would not fit, and were not made
    assert 1 <= caught.value.attempts < 6
    assert caught.value.attempts == len(fake.chat_requests)


async def test_a_per_attempt_timeout_still_applies_and_is_retried_within_the_deadline(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    fake.script(Delay(30.0), Reply("second try"))
    completion = await make_model(timeout=0.3, max_retries=2).complete(QUESTION, deadline=Deadline(10.0))
    assert completion.text == "second try"
    assert len(fake.chat_requests) == 2


async def test_nothing_is_sent_once_the_deadline_is_used_up(fake: FakeOpenAI, make_model: MakeModel) -> None:
    deadline = Deadline(0.01)
    await asyncio.sleep(0.05)
    with pytest.raises(LLMTimeout, match=r"not sent: nothing was left of this turn's 0\.01 s") as caught:
        await make_model().complete(QUESTION, deadline=deadline)
    assert caught.value.attempts == 0
    assert fake.chat_requests == []


async def test_every_attempt_is_counted_and_an_unusable_reply_keeps_its_tokens(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    fake.fail_with = 500
    with pytest.raises(LLMUnavailable) as failed:
        await make_model(max_retries=2).complete(QUESTION)
    assert (failed.value.attempts, failed.value.outcome) == (3, CallOutcome.UNAVAILABLE)
    fake.fail_with = None
    fake.script(Reply(text=None, usage=(640, 25)))  # neither text nor tool calls, but the tokens were spent
    prices = PriceTable.parse("fake-chat=1/2")
    with pytest.raises(LLMBadResponse) as unusable:
        await make_model(prices=prices).complete(QUESTION)
    error = unusable.value
    assert (error.outcome, error.attempts, error.prompt_tokens, error.completion_tokens) == ("failed", 1, 640, 25)
    assert error.cost_usd == pytest.approx((640 * 1 + 25 * 2) / 1e6)
    fake.script(RawBody('{"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 1}}'))
    with pytest.raises(LLMBadResponse) as empty:
        await make_model().complete(QUESTION)  # no price table entry: the cost is unknown, not 0
    assert (empty.value.prompt_tokens, empty.value.cost_usd) == (9, None)


async def test_the_breaker_opens_on_server_errors_and_skips_the_endpoint_until_the_cooldown(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    fake.fail_with = 503
    model = make_model(max_retries=0, breaker=CircuitBreaker(failures=2, cooldown_s=1.0))
    for _ in range(2):
        with pytest.raises(LLMUnavailable):
            await model.complete(QUESTION)
    started = time.perf_counter()
    with pytest.raises(LLMCircuitOpen) as skipped:
        await model.complete(QUESTION)
    assert time.perf_counter() - started < 0.5  # nothing was sent, nothing waited for
    assert len(fake.chat_requests) == 2
    assert skipped.value.outcome == CallOutcome.SKIPPED and skipped.value.attempts == 0
    assert model.health().breaker.state is CircuitState.OPEN
    fake.fail_with = None
    await asyncio.sleep(1.1)
    assert (await model.complete(QUESTION)).text == "OK"  # the trial request, and it worked
    assert model.health().breaker.state is CircuitState.CLOSED and len(fake.chat_requests) == 3


async def test_a_refused_port_opens_the_breaker_so_turns_stop_paying_for_it(make_model: MakeModel) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = make_model(base_url=f"http://127.0.0.1:{port}/v1", breaker=CircuitBreaker(failures=1, cooldown_s=60))
    with pytest.raises(LLMUnavailable, match="could not connect") as refused:
        await model.complete(QUESTION)
    assert refused.value.attempts == 3  # the client's retries, each counted
    started = time.perf_counter()
    for _ in range(5):
        with pytest.raises(LLMCircuitOpen):
            await model.complete(QUESTION)
    assert time.perf_counter() - started < 0.5  # each refused call cost ~1 s of back-off before


async def test_client_errors_do_not_trip_the_breaker(fake: FakeOpenAI, make_model: MakeModel) -> None:
    fake.script(*[Status(400, "bad request")] * 4, Status(429, "slow down"))
    model = make_model(max_retries=0, breaker=CircuitBreaker(failures=2, cooldown_s=60))
    for _ in range(4):
        with pytest.raises(LLMBadResponse):
            await model.complete(QUESTION)
    with pytest.raises(LLMUnavailable) as limited:
        await model.complete(QUESTION)
    assert not isinstance(limited.value, LLMCircuitOpen)
    assert (await model.complete(QUESTION)).text == "OK"
    assert model.health().breaker.consecutive_failures == 0


async def test_a_model_that_never_calls_tools_is_noticed_at_run_time(
    fake: FakeOpenAI, make_model: MakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    fake.ignore_tools = True
    model = make_model(tool_support=ToolSupport(give_up_after=3))
    for _ in range(2):
        await model.complete(QUESTION, tools=[TOOL])
    assert model.supports_tools is None
    with caplog.at_level(logging.WARNING, logger="bot.providers.openai.chat"):
        await model.complete(QUESTION, tools=[TOOL])
    assert model.supports_tools is False
    assert "does not call tools (3 replies in a row to requests offering tools called none)" in caplog.text


async def test_a_refusal_because_of_tools_is_learned_at_once_and_is_no_outage(
    fake: FakeOpenAI, make_model: MakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    fake.script(Status(500, "tools param requires --jinja flag"), Reply("drafted"))
    model = make_model(max_retries=0, breaker=CircuitBreaker(failures=1, cooldown_s=60))
    with caplog.at_level(logging.WARNING, logger="bot.providers.openai.chat"), pytest.raises(LLMToolsRefused):
        await model.complete(QUESTION, tools=[TOOL])
    assert model.supports_tools is False
    assert "does not call tools (the LLM endpoint refused a request offering tools (HTTP 500" in caplog.text
    assert (await model.complete(QUESTION)).text == "drafted"  # the breaker did not open: the endpoint is up
    assert model.health().breaker.state is CircuitState.CLOSED


@pytest.mark.parametrize(
    ("server", "script", "verdict", "words"),
    [
        ({}, [Reply(None, tool_calls=(("ping", "{}"),))], True, "calls tools"),
        ({"ignore_tools": True}, [], False, "does not call tools (it answered with text when asked to call a tool"),
        (
            {"reject_tools": "registry.ollama.ai/library/gemma:2b does not support tools"},
            [],
            False,
            "does not call tools (the LLM endpoint refused a request offering tools (HTTP 400, 1 attempt): "
            "registry.ollama.ai/library/gemma:2b does not support tools)",
        ),
        (
            {},
            [Status(500, "tools param requires --jinja flag")],  # an older llama.cpp server
            False,
            "does not call tools (the LLM endpoint refused a request offering tools (HTTP 500, 1 attempt)",
        ),
        ({"fail_with": 500}, [], None, "could not check whether it calls tools"),
        ({}, [Status(401, "bad key")], None, "could not check whether it calls tools (the LLM endpoint rejected"),
    ],
    ids=["calls", "ignores-tools", "ollama-400", "llama.cpp-500", "server-error", "bad-key"],
)
async def test_the_start_up_probe_says_once_whether_the_model_calls_tools(
    fake: FakeOpenAI,
    make_model: MakeModel,
    caplog: pytest.LogCaptureFixture,
    server: dict[str, Any],
    script: list[Any],
    verdict: bool | None,
    words: str,
) -> None:
    for name, value in server.items():
        setattr(fake, name, value)
    fake.script(*script)
    model = make_model(max_retries=0)
    with caplog.at_level(logging.INFO, logger="bot.providers.openai.probe"):
        assert await probe_tools(model) is verdict
    assert model.supports_tools is verdict
    [line] = [record.getMessage() for record in caplog.records if record.name == "bot.providers.openai.probe"]
    assert f"LLM openai:fake-chat at {fake.base_url}" in line and words in line
    first = fake.chat_requests[0]
    assert first["tools"][0]["function"]["name"] == "ping" and first["tool_choice"] == "auto"  # as routing asks


async def test_a_probe_of_an_unreachable_endpoint_returns_quickly_and_leaves_tools_unknown(
    make_model: MakeModel,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = make_model(base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    started = time.perf_counter()
    assert await probe_tools(model) is None
    assert time.perf_counter() - started < 5
    assert model.supports_tools is None and model.health().breaker.consecutive_failures == 1


async def test_a_hanging_endpoint_holds_the_probe_no_longer_than_its_limit(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    fake.script(Hang())
    started = time.perf_counter()
    assert await probe_tools(make_model(), seconds=1.0) is None
    assert time.perf_counter() - started < 6
    assert await fake.disconnected() == [0]
