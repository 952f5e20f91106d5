"""The OpenAI-compatible chat model against a local fake server, over real HTTP, with the real openai client."""

from __future__ import annotations

import json
import logging
import socket
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from bot.providers.openai.chat import OpenAIChatModel
from handlers.llm import (
    Completion,
    LanguageModel,
    LLMBadResponse,
    LLMError,
    LLMTimeout,
    LLMUnavailable,
    Message,
    PriceTable,
    ToolCall,
    ToolSpec,
    Usage,
)
from tests.fakes.openai_server import Delay, FakeOpenAI, RawBody, Reply, ScriptItem, Status

pytestmark = pytest.mark.timeout(15)

API_KEY = "sk-test-7f3a9c1e5b"
ORDER_TOOL = ToolSpec(
    name="lookup_order",
    description="Find an order by its id",
    parameters={"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
)
QUESTION = [Message(role="system", content="You are a support bot."), Message(role="user", content="Where is A-1?")]

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
        options: dict[str, Any] = {
            "base_url": fake.base_url,
            "api_key": API_KEY,
            "model": "fake-chat",
            "timeout": 2.0,
            "max_retries": 2,
        }
        model = OpenAIChatModel(**(options | overrides))
        made.append(model)
        return model

    yield make
    for model in made:
        await model.close()


async def test_a_text_completion_carries_usage_cost_and_model(fake: FakeOpenAI, make_model: MakeModel) -> None:
    fake.script(Reply("Order A-1 shipped yesterday.", usage=(1200, 300)))
    model: LanguageModel = make_model(prices=PriceTable.parse("fake-chat=0.15/0.60"))
    completion = await model.complete(QUESTION)
    assert model.name == "openai:fake-chat"
    assert completion.text == "Order A-1 shipped yesterday."
    assert completion.tool_calls == ()
    assert completion.usage == Usage(prompt_tokens=1200, completion_tokens=300)
    assert completion.cost_usd == pytest.approx((1200 * 0.15 + 300 * 0.60) / 1_000_000)
    assert completion.model == "fake-chat"
    assert completion.finish_reason == "stop"
    assert completion.latency_ms > 0
    [body] = fake.chat_requests
    assert body["model"] == "fake-chat"
    assert body["messages"] == [
        {"role": "system", "content": "You are a support bot."},
        {"role": "user", "content": "Where is A-1?"},
    ]
    assert body["temperature"] == 0.0
    assert body["max_tokens"] == 512
    assert "tools" not in body
    assert "tool_choice" not in body
    assert fake.chat_headers[0]["authorization"] == f"Bearer {API_KEY}"


async def test_the_empty_script_answers_ok_and_options_reach_the_request(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    completion = await make_model().complete(QUESTION, temperature=0.7, max_tokens=64)
    assert completion.text == "OK"
    assert fake.chat_requests[0]["temperature"] == 0.7
    assert fake.chat_requests[0]["max_tokens"] == 64


async def test_a_dated_model_name_is_reported_and_priced_by_the_configured_name(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    fake.script(Reply("hi", model="fake-chat-2024-07-18", usage=(1_000_000, 0)))
    prices = PriceTable.parse("fake-chat=0.15/0.60")
    completion = await make_model(prices=prices).complete(QUESTION)
    assert completion.model == "fake-chat-2024-07-18"
    assert completion.cost_usd == pytest.approx(0.15)
    assert prices.unknown_models == frozenset()


async def test_an_unpriced_model_has_an_unknown_cost_and_is_flagged(fake: FakeOpenAI, make_model: MakeModel) -> None:
    prices = PriceTable.parse("gpt-4o-mini=0.15/0.60")
    completion = await make_model(prices=prices).complete(QUESTION)
    assert completion.cost_usd is None  # "price unknown", never $0
    assert prices.unknown_models == {"fake-chat"}


async def test_a_free_model_costs_zero_not_unknown(fake: FakeOpenAI, make_model: MakeModel) -> None:
    prices = PriceTable.parse("fake-chat=0/0")
    completion = await make_model(prices=prices).complete(QUESTION)
    assert completion.cost_usd == 0.0
    assert prices.unknown_models == frozenset()


async def test_missing_usage_counts_as_zero(fake: FakeOpenAI, make_model: MakeModel) -> None:
    fake.script(Reply("no usage from this server", usage=None))
    completion = await make_model(prices=PriceTable.parse("fake-chat=1/1")).complete(QUESTION)
    assert completion.usage == Usage(prompt_tokens=0, completion_tokens=0)
    assert completion.cost_usd == 0.0


async def test_a_tool_call_round_trip(fake: FakeOpenAI, make_model: MakeModel) -> None:
    fake.script(
        Reply(text=None, tool_calls=(("lookup_order", '{"order_id": "A-1"}'),)), Reply("A-1 shipped yesterday.")
    )
    model = make_model()
    first = await model.complete(QUESTION, tools=[ORDER_TOOL])
    assert first.text is None
    assert first.tool_calls == (ToolCall(id="call_0", name="lookup_order", arguments='{"order_id": "A-1"}'),)
    assert first.finish_reason == "tool_calls"
    sent = fake.chat_requests[0]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup_order",
                "description": "Find an order by its id",
                "parameters": ORDER_TOOL.parameters,
            },
        }
    ]
    assert sent["tool_choice"] == "auto"

    [call] = first.tool_calls
    history = [*QUESTION, first.as_message(), Message.tool_result(call, '{"status": "shipped"}')]
    second = await model.complete(history, tools=[ORDER_TOOL])
    assert second.text == "A-1 shipped yesterday."
    assert fake.chat_requests[1]["messages"][2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "lookup_order", "arguments": '{"order_id": "A-1"}'},
                }
            ],
        },
        {"role": "tool", "content": '{"status": "shipped"}', "tool_call_id": "call_0"},
    ]


async def test_an_assistant_turn_with_text_and_tool_calls_keeps_its_text(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    call = ToolCall(id="call_9", name="lookup_order", arguments="{}")
    history = [*QUESTION, Message(role="assistant", content="Let me look.", tool_calls=(call,))]
    await make_model().complete([*history, Message.tool_result(call, "not found")])
    assistant = fake.chat_requests[0]["messages"][2]
    assert assistant["content"] == "Let me look."
    assert assistant["tool_calls"][0]["id"] == "call_9"


async def test_invalid_arguments_and_unknown_tools_pass_through_untouched(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    # the caller validates with pydantic and decides; the adapter neither parses nor filters
    fake.script(
        Reply(
            text="Checking.",
            tool_calls=(("lookup_order", '{"order_id": "A-1"'), ("delete_everything", "not json at all")),
        )
    )
    completion = await make_model().complete(QUESTION, tools=[ORDER_TOOL])
    assert completion.text == "Checking."
    assert completion.tool_calls == (
        ToolCall(id="call_0", name="lookup_order", arguments='{"order_id": "A-1"'),
        ToolCall(id="call_1", name="delete_everything", arguments="not json at all"),
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(completion.tool_calls[0].arguments)


async def test_a_server_error_then_success_is_retried_by_the_client(fake: FakeOpenAI, make_model: MakeModel) -> None:
    fake.script(Status(500), Reply("recovered"))
    completion = await make_model().complete(QUESTION)
    assert completion.text == "recovered"
    assert [headers["x-stainless-retry-count"] for headers in fake.chat_headers] == ["0", "1"]


async def test_a_server_that_always_fails_is_unavailable_after_every_retry(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    fake.fail_with = 500
    with pytest.raises(LLMUnavailable) as caught:
        await make_model(max_retries=2).complete(QUESTION)
    assert len(fake.chat_requests) == 3
    assert caught.value.status == 500
    assert "failed (HTTP 500, 3 attempts): boom" in str(caught.value)


async def test_rate_limits_are_retried(fake: FakeOpenAI, make_model: MakeModel) -> None:
    fake.script(Status(429, "slow down"), Status(429, "slow down"), Reply("finally"))
    completion = await make_model(max_retries=2).complete(QUESTION)
    assert completion.text == "finally"
    assert len(fake.chat_requests) == 3


async def test_rate_limits_beyond_the_retries_make_the_endpoint_unavailable(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    fake.script(Status(429, "slow down"), Status(429, "slow down"))
    with pytest.raises(LLMUnavailable) as caught:
        await make_model(max_retries=1).complete(QUESTION)
    assert caught.value.status == 429
    assert "kept rate-limiting requests (HTTP 429, 2 attempts): slow down" in str(caught.value)
    assert len(fake.chat_requests) == 2


@pytest.mark.parametrize(
    ("status", "words"),
    [
        # a refusal that names the tools it was offered: the model does not call tools (LLMToolsRefused)
        (400, "refused a request offering tools (HTTP 400, 1 attempt): this model does not support tools"),
        (401, "rejected the API key (HTTP 401)"),
        (404, "does not know model 'fake-chat'"),
        (422, "refused a request offering tools (HTTP 422, 1 attempt)"),
    ],
)
async def test_a_client_error_is_a_bad_response_with_its_status_and_is_not_retried(
    fake: FakeOpenAI, make_model: MakeModel, status: int, words: str
) -> None:
    fake.script(Status(status, "this model does not support tools"))
    with pytest.raises(LLMBadResponse) as caught:
        await make_model().complete(QUESTION, tools=[ORDER_TOOL])
    assert caught.value.status == status
    assert words in str(caught.value)
    assert len(fake.chat_requests) == 1


async def test_a_slow_endpoint_times_out(fake: FakeOpenAI, make_model: MakeModel) -> None:
    fake.script(Delay(2.0))
    with pytest.raises(LLMTimeout, match=r"did not answer within 0\.2 s \(1 attempt\)") as caught:
        await make_model(timeout=0.2, max_retries=0).complete(QUESTION)
    assert caught.value.status is None


async def test_a_timeout_is_retried(fake: FakeOpenAI, make_model: MakeModel) -> None:
    fake.script(Delay(2.0), Reply("second try"))
    completion = await make_model(timeout=0.2, max_retries=1).complete(QUESTION)
    assert completion.text == "second try"
    assert len(fake.chat_requests) == 2


async def test_an_unreachable_endpoint_is_unavailable(make_model: MakeModel) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # nothing listens on the port any more
    with pytest.raises(LLMUnavailable, match=r"could not connect to the LLM endpoint at http://127\.0\.0\.1"):
        await make_model(base_url=f"http://127.0.0.1:{port}/v1", max_retries=0).complete(QUESTION)


@pytest.mark.parametrize(
    ("item", "words"),
    [
        (RawBody("{this is not json"), "reply is not JSON: {this is not json"),
        (RawBody("<html>Bad gateway</html>", content_type="text/html"), "reply is not JSON: <html>"),
        (RawBody("[1, 2]"), "reply is not a JSON object"),
        (
            RawBody('{"error": {"message": "model overloaded"}}'),
            'answered with an error: {"message": "model overloaded"}',
        ),
        (Reply(no_choices=True), "reply has no choices"),
        (RawBody('{"choices": [{"index": 0}]}'), "a choice without a message"),
        (Reply(text=None), "neither text nor tool calls (finish_reason=stop)"),
        (Reply(text=None, refusal="I can't help with that."), "the model refused: I can't help with that."),
        (Reply("partial", finish_reason="content_filter"), "content filter withheld the reply"),
        (RawBody('{"choices": [{"message": {"content": 42}}]}'), "content that is not text: int"),
        (RawBody('{"choices": [{"message": {"content": null, "tool_calls": {}}}]}'), "tool_calls that are not a list"),
        (RawBody('{"choices": [{"message": {"tool_calls": [{"id": "c"}]}}]}'), "a tool call without a function name"),
    ],
)
async def test_a_malformed_reply_is_a_bad_response(
    fake: FakeOpenAI, make_model: MakeModel, item: ScriptItem, words: str
) -> None:
    fake.script(item)
    with pytest.raises(LLMBadResponse) as caught:
        await make_model().complete(QUESTION)
    assert words in str(caught.value)
    assert len(fake.chat_requests) == 1


async def test_lenient_servers_are_read_too(fake: FakeOpenAI, make_model: MakeModel) -> None:
    # no id, arguments as an object, no usage, no model: seen from some OpenAI-compatible servers
    body = {
        "choices": [{"message": {"content": None, "tool_calls": [{"function": {"name": "t", "arguments": {"a": 1}}}]}}]
    }
    fake.script(RawBody(json.dumps(body)))
    completion = await make_model().complete(QUESTION)
    assert completion.tool_calls == (ToolCall(id="call_0", name="t", arguments='{"a": 1}'),)
    assert completion.model == "fake-chat"
    assert completion.finish_reason is None
    assert completion.usage == Usage(prompt_tokens=0, completion_tokens=0)


async def test_the_api_key_is_sent_as_bearer_and_never_shown(
    fake: FakeOpenAI, make_model: MakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    model = make_model(max_retries=1)
    fake.script(
        Reply("fine"),
        Status(401, f"Incorrect API key provided: {API_KEY}"),
        RawBody(f"<html>bad key {API_KEY}</html>", content_type="text/html"),
        Status(500, f"crashed on {API_KEY}"),
        Status(500, f"crashed on {API_KEY}"),
    )
    await model.complete(QUESTION)
    failures: list[LLMError] = []
    for _ in range(3):
        with pytest.raises(LLMError) as caught:
            await model.complete(QUESTION)
        failures.append(caught.value)
    assert [type(failure) for failure in failures] == [LLMBadResponse, LLMBadResponse, LLMUnavailable]
    assert {headers["authorization"] for headers in fake.chat_headers} == {f"Bearer {API_KEY}"}
    assert "[redacted]" in str(failures[0])
    for failure in failures:
        logging.getLogger("test").exception("LLM call failed", exc_info=failure)
        assert API_KEY not in "".join(traceback.format_exception(failure))
    assert API_KEY not in repr(model)
    assert caplog.records
    assert API_KEY not in caplog.text


def test_the_port_refuses_malformed_messages_and_tool_names() -> None:
    with pytest.raises(ValueError, match="needs the tool_call_id"):
        Message(role="tool", content="result")
    with pytest.raises(ValueError, match="only tool messages carry a tool_call_id"):
        Message(role="user", content="hi", tool_call_id="call_0")
    with pytest.raises(ValueError, match="only assistant messages carry tool calls"):
        Message(role="user", content="hi", tool_calls=(ToolCall(id="c", name="t", arguments="{}"),))
    with pytest.raises(ValueError, match="tool name 'look up' must be"):
        ToolSpec(name="look up", description="", parameters={})
    completion = Completion(
        text=None,
        tool_calls=(ToolCall(id="c", name="t", arguments="{}"),),
        usage=Usage(prompt_tokens=1, completion_tokens=2),
        model="m",
        cost_usd=0.0,
        latency_ms=1.0,
        finish_reason="tool_calls",
    )
    assert completion.usage.total_tokens == 3
    assert completion.as_message() == Message(role="assistant", content="", tool_calls=completion.tool_calls)
