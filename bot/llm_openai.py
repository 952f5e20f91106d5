"""Chat completions from any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, Ollama, vLLM).

The openai client does the HTTP, the timeouts and the retries (5xx, 429, 408, connection
errors, with back-off and `Retry-After`). The reply body is read here, from the raw JSON,
rather than through the client's models: OpenAI-compatible servers differ in the details,
and a malformed reply must become `LLMBadResponse`, not an attribute error deep in the core.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import openai
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)

from handlers.llm import (
    Completion,
    Deadline,
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

log = logging.getLogger(__name__)

_EXCERPT = 200  # characters of a server's text quoted in an error message


class OpenAIChatModel:
    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str,
        model: str,
        timeout: float = 20.0,
        max_retries: int = 2,
        prices: PriceTable | None = None,
    ) -> None:
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)
        self._api_key = api_key
        self._model = model
        self._timeout = timeout
        self._prices = prices if prices is not None else PriceTable()

    def __repr__(self) -> str:
        return f"OpenAIChatModel(base_url={str(self._client.base_url)!r}, model={self._model!r})"

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    async def complete(
        self,
        messages: list[Message],
        *,
        tools: list[ToolSpec] | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        deadline: Deadline | None = None,
    ) -> Completion:
        started = time.perf_counter()
        try:
            raw = await self._client.chat.completions.with_raw_response.create(
                model=self._model,
                messages=[_wire_message(message) for message in messages],
                tools=[_wire_tool(tool) for tool in tools] if tools else openai.omit,
                tool_choice="auto" if tools else openai.omit,
                temperature=temperature,
                max_tokens=max_tokens,
            )
        except openai.APIStatusError as exc:
            # `from None`: the client's message quotes the server's text, which we redact here
            raise self._status_error(exc) from None
        except openai.APITimeoutError as exc:
            raise LLMTimeout(
                f"the LLM endpoint did not answer within {self._timeout:g} s ({_attempts(exc.request.headers)})"
            ) from exc
        except openai.APIConnectionError as exc:
            raise LLMUnavailable(
                f"could not connect to the LLM endpoint at {self._client.base_url} ({_attempts(exc.request.headers)})"
            ) from exc
        except openai.OpenAIError as exc:
            raise LLMBadResponse(f"the LLM call failed: {self._redact(str(exc))}") from None
        latency_ms = (time.perf_counter() - started) * 1000
        completion = self._read(raw.text, latency_ms=latency_ms)
        log.debug(
            "LLM %s answered in %.0f ms: %d+%d tokens, %.6f USD, finish_reason=%s",
            completion.model,
            latency_ms,
            completion.usage.prompt_tokens,
            completion.usage.completion_tokens,
            completion.cost_usd,
            completion.finish_reason,
        )
        return completion

    async def close(self) -> None:
        await self._client.close()

    def _read(self, text: str, *, latency_ms: float) -> Completion:
        try:
            body = json.loads(text)
        except ValueError:
            raise LLMBadResponse(f"the LLM endpoint's reply is not JSON: {self._excerpt(text)}") from None
        if not isinstance(body, dict):
            raise LLMBadResponse(f"the LLM endpoint's reply is not a JSON object: {self._excerpt(text)}")
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices:
            error = body.get("error")
            if error:
                raise LLMBadResponse(f"the LLM endpoint answered with an error: {self._excerpt(json.dumps(error))}")
            raise LLMBadResponse("the LLM endpoint's reply has no choices")
        choice = choices[0]
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            raise LLMBadResponse("the LLM endpoint's reply has a choice without a message")
        finish_reason = choice.get("finish_reason")
        finish_reason = finish_reason if isinstance(finish_reason, str) else None
        refusal = message.get("refusal")
        if isinstance(refusal, str) and refusal:
            raise LLMBadResponse(f"the model refused: {self._excerpt(refusal)}")
        if finish_reason == "content_filter":
            raise LLMBadResponse("the LLM endpoint's content filter withheld the reply")
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise LLMBadResponse(f"the LLM endpoint's reply has content that is not text: {type(content).__name__}")
        tool_calls = self._tool_calls(message.get("tool_calls"))
        if content is None and not tool_calls:
            raise LLMBadResponse(
                f"the LLM endpoint's reply has neither text nor tool calls (finish_reason={finish_reason})"
            )
        usage = _usage(body.get("usage"))
        model = body.get("model")
        model = model if isinstance(model, str) and model else self._model
        # price by the configured name first: OpenAI answers with dated names (gpt-4o-mini-2024-07-18)
        priced = self._model if self._model in self._prices else model
        return Completion(
            text=content,
            tool_calls=tool_calls,
            usage=usage,
            model=model,
            cost_usd=self._prices.cost(priced, usage),
            latency_ms=latency_ms,
            finish_reason=finish_reason,
        )

    def _tool_calls(self, value: object) -> tuple[ToolCall, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise LLMBadResponse("the LLM endpoint's reply has tool_calls that are not a list")
        calls = []
        for index, item in enumerate(value):
            function = item.get("function") if isinstance(item, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise LLMBadResponse(
                    f"the LLM endpoint's reply has a tool call without a function name: {self._excerpt(repr(item))}"
                )
            arguments = function.get("arguments")
            if isinstance(arguments, dict):
                # some servers send an object; keep the contract of raw JSON text
                arguments = json.dumps(arguments)
            elif arguments is None:
                arguments = ""
            elif not isinstance(arguments, str):
                raise LLMBadResponse(f"tool call {function['name']!r} has arguments that are neither text nor object")
            call_id = item.get("id")
            # some servers leave the id out; the tool result must still name the call it answers
            calls.append(
                ToolCall(
                    id=call_id if isinstance(call_id, str) and call_id else f"call_{index}",
                    name=function["name"],
                    arguments=arguments,
                )
            )
        return tuple(calls)

    def _status_error(self, exc: openai.APIStatusError) -> LLMError:
        status = exc.status_code
        attempts = _attempts(exc.response.request.headers)
        detail = self._server_message(exc)
        if status == 429:
            return LLMUnavailable(
                f"the LLM endpoint kept rate-limiting requests (HTTP 429, {attempts}): {detail}", status=status
            )
        if status >= 500:
            return LLMUnavailable(f"the LLM endpoint failed (HTTP {status}, {attempts}): {detail}", status=status)
        if status == 408:
            return LLMTimeout(f"the LLM endpoint timed out the request (HTTP 408, {attempts})", status=status)
        what = {
            401: "rejected the API key",
            403: "refused access to the model",
            404: f"does not know model {self._model!r} or the path: check the model name and base URL",
        }.get(status, "rejected the request")
        return LLMBadResponse(f"the LLM endpoint {what} (HTTP {status}): {detail}", status=status)

    def _server_message(self, exc: openai.APIStatusError) -> str:
        body = exc.body
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return self._excerpt(body["message"])
        if isinstance(body, str) and body:
            return self._excerpt(body)
        return "no details given"

    def _excerpt(self, text: str) -> str:
        text = self._redact(text)
        return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"

    def _redact(self, text: str) -> str:
        # servers sometimes echo the key back in error messages
        return text.replace(self._api_key, "[redacted]") if self._api_key else text


def _attempts(headers: Any) -> str:
    """How many times the client sent the request, from the retry counter it puts in each one."""
    try:
        count = int(headers.get("x-stainless-retry-count", "0")) + 1
    except ValueError:
        count = 1
    return "1 attempt" if count == 1 else f"{count} attempts"


def _usage(value: object) -> Usage:
    if not isinstance(value, dict):
        return Usage(prompt_tokens=0, completion_tokens=0)
    return Usage(
        prompt_tokens=_count(value.get("prompt_tokens")), completion_tokens=_count(value.get("completion_tokens"))
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _wire_message(message: Message) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "user":
        return {"role": "user", "content": message.content}
    if message.role == "tool":
        return {"role": "tool", "content": message.content, "tool_call_id": message.tool_call_id or ""}
    wire: ChatCompletionAssistantMessageParam = {"role": "assistant", "content": message.content}
    if message.tool_calls:
        # an assistant turn that only called tools has null content, as the API itself returns it
        wire["content"] = message.content or None
        wire["tool_calls"] = [_wire_tool_call(call) for call in message.tool_calls]
    return wire


def _wire_tool_call(call: ToolCall) -> ChatCompletionMessageFunctionToolCallParam:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def _wire_tool(tool: ToolSpec) -> ChatCompletionFunctionToolParam:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }
