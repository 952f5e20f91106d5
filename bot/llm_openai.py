"""Chat completions from any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp).

The openai client does the HTTP, the per-attempt time-outs and the retries (5xx, 429, 408, connection
errors, with back-off and `Retry-After`). Around it: the turn's `Deadline` bounds the whole call, retries
and a slowly trickling body included (the client's time-out is per read, so a server sending a byte every
few seconds never trips it); a cancelled request closes its connection, so a single-slot local server stops
working on it. A circuit breaker stops calling an endpoint that keeps failing, and the model learns whether
the endpoint calls tools. The reply body is read here, from the raw JSON, rather than through the client's
models: OpenAI-compatible servers differ in the details, and a malformed reply must become `LLMBadResponse`,
not an attribute error deep in the core.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import openai
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from handlers.llm import (
    Completion,
    Deadline,
    LLMBadResponse,
    LLMError,
    LLMTimeout,
    LLMToolsRefused,
    LLMUnavailable,
    Message,
    PriceTable,
    ToolCall,
    ToolSpec,
    Usage,
)
from handlers.llm_health import CIRCUIT_OPENED, BreakerSnapshot, CircuitBreaker, ToolSupport

log = logging.getLogger(__name__)
tracer = trace.get_tracer("supportbot.llm")

_EXCERPT = 200  # characters of a server's text quoted in an error message
_NOT_ABOUT_TOOLS = frozenset({401, 403, 404, 408, 429})  # the key, the model, time, rate: whatever the text says
# requests the client sent for the call running in this task, retries included (see `_count_attempt`)
_ATTEMPTS: ContextVar[list[int] | None] = ContextVar("llm_attempts", default=None)


async def _count_attempt(request: object) -> None:
    """An httpx request hook: it runs once per attempt, in the task that made the call."""
    counter = _ATTEMPTS.get()
    if counter is not None:
        counter[0] += 1


@dataclass(frozen=True)
class _Request:
    messages: list[Message]
    tools: list[ToolSpec] | None
    temperature: float
    max_tokens: int


@dataclass(frozen=True)
class ModelHealth:
    """This process's view of the endpoint, for /healthz."""

    breaker: BreakerSnapshot
    supports_tools: bool | None
    tools_reason: str | None


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
        breaker: CircuitBreaker | None = None,
        tool_support: ToolSupport | None = None,
    ) -> None:
        http = openai.DefaultAsyncHttpxClient(timeout=timeout, event_hooks={"request": [_count_attempt]})
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries, http_client=http
        )
        self._api_key = api_key
        self._model = model
        self._timeout = timeout
        self._prices = prices if prices is not None else PriceTable()
        self.breaker = breaker or CircuitBreaker()
        self.tool_support = tool_support or ToolSupport()

    def __repr__(self) -> str:
        return f"OpenAIChatModel(base_url={str(self._client.base_url)!r}, model={self._model!r})"

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    @property
    def supports_tools(self) -> bool | None:
        return self.tool_support.known

    def health(self) -> ModelHealth:
        return ModelHealth(self.breaker.snapshot(), self.tool_support.known, self.tool_support.reason)

    async def complete(
        self,
        messages: list[Message],
        *,
        tools: list[ToolSpec] | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        deadline: Deadline | None = None,
    ) -> Completion:
        """One model call, within `deadline` when given. Raises `LLMCircuitOpen` at once while the breaker is
        open, and `LLMTimeout` without sending anything when the deadline is already used up. Traced as a
        GenAI client span (OpenTelemetry's semantic conventions for generative AI)."""
        with tracer.start_as_current_span(f"chat {self._model}", kind=SpanKind.CLIENT) as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": self._model,
                    "gen_ai.request.max_tokens": max_tokens,
                    "gen_ai.request.temperature": temperature,
                    "server.address": self._client.base_url.host,
                }
            )
            try:
                completion = await self._complete(
                    messages, tools=tools, temperature=temperature, max_tokens=max_tokens, deadline=deadline
                )
            except LLMError as exc:
                span.set_attributes(
                    {
                        "error.type": type(exc).__name__,
                        "gen_ai.usage.input_tokens": exc.prompt_tokens,
                        "gen_ai.usage.output_tokens": exc.completion_tokens,
                    }
                )
                raise
            span.set_attributes(
                {
                    "gen_ai.response.model": completion.model,
                    "gen_ai.usage.input_tokens": completion.usage.prompt_tokens,
                    "gen_ai.usage.output_tokens": completion.usage.completion_tokens,
                    "gen_ai.response.finish_reasons": [completion.finish_reason or "unknown"],
                }
            )
            if completion.tool_calls:
                span.set_attribute("supportbot.tool_calls", [call.name for call in completion.tool_calls])
            return completion

    async def _complete(
        self,
        messages: list[Message],
        *,
        tools: list[ToolSpec] | None,
        temperature: float,
        max_tokens: int,
        deadline: Deadline | None,
    ) -> Completion:
        if deadline is not None and deadline.expired:
            raise LLMTimeout(
                f"not sent: nothing was left of this turn's {deadline.seconds:g} s model deadline",
                attempts=0,
                latency_ms=0.0,
            )
        self.breaker.before_call()
        try:
            completion = await self._call(_Request(messages, tools, temperature, max_tokens), deadline)
        except LLMError as exc:
            if isinstance(exc, LLMToolsRefused) and self.tool_support.refused(str(exc)):
                log.warning(
                    "LLM %s does not call tools (%s): routing calls stop; the offline router routes every message",
                    self.name,
                    exc,
                )
            if _endpoint_failed(exc):
                if self.breaker.failed(str(exc)):
                    exc.args = (f"{exc}; {CIRCUIT_OPENED}: the endpoint is skipped for {self.breaker.cooldown_s:g} s",)
            else:
                self.breaker.succeeded()  # it answered, if not usefully
            raise
        except BaseException:
            self.breaker.abandoned()  # cancelled from outside: no verdict on the endpoint
            raise
        self.breaker.succeeded()
        log.debug(
            "LLM %s answered in %.0f ms: %d+%d tokens, %s USD, finish_reason=%s",
            completion.model,
            completion.latency_ms,
            completion.usage.prompt_tokens,
            completion.usage.completion_tokens,
            "unknown" if completion.cost_usd is None else f"{completion.cost_usd:.6f}",
            completion.finish_reason,
        )
        if tools and self.tool_support.replied(called_a_tool=bool(completion.tool_calls)):
            log.warning(
                "LLM %s does not call tools (%s): routing calls stop; the offline router routes every message",
                self.name,
                self.tool_support.reason,
            )
        return completion

    async def _call(self, request: _Request, deadline: Deadline | None) -> Completion:
        started = time.perf_counter()
        attempts = [0]
        token = _ATTEMPTS.set(attempts)
        try:
            text = await self._request(request, deadline, attempts)
            return self._read(text, latency_ms=(time.perf_counter() - started) * 1000)
        except LLMError as exc:
            exc.attempts, exc.latency_ms = attempts[0], (time.perf_counter() - started) * 1000
            raise
        finally:
            _ATTEMPTS.reset(token)

    async def _request(self, request: _Request, deadline: Deadline | None, attempts: list[int]) -> str:
        """The reply body's text. The deadline covers every attempt, the back-off between them and the body."""
        per_attempt = self._timeout if deadline is None else min(self._timeout, deadline.remaining())
        try:
            async with asyncio.timeout(None if deadline is None else deadline.remaining()):
                raw = await self._client.chat.completions.with_raw_response.create(
                    model=self._model,
                    messages=[_wire_message(message) for message in request.messages],
                    tools=[_wire_tool(tool) for tool in request.tools] if request.tools else openai.omit,
                    tool_choice="auto" if request.tools else openai.omit,
                    temperature=request.temperature,
                    max_tokens=request.max_tokens,
                    timeout=per_attempt,
                )
                return raw.text
        except TimeoutError:  # the deadline: the request in flight was cancelled and its connection closed
            assert deadline is not None
            raise LLMTimeout(
                f"the LLM endpoint did not finish within this turn's {deadline.seconds:g} s model deadline "
                f"({_plural(attempts[0], 'attempt')}); the request was abandoned"
            ) from None
        except openai.APIStatusError as exc:
            # `from None`: the client's message quotes the server's text, which we redact here
            raise self._status_error(exc, tools_offered=bool(request.tools)) from None
        except openai.APITimeoutError as exc:
            raise LLMTimeout(
                f"the LLM endpoint did not answer within {per_attempt:.3g} s ({_attempts(exc.request.headers)})"
            ) from exc
        except openai.APIConnectionError as exc:
            raise LLMUnavailable(
                f"could not connect to the LLM endpoint at {self._client.base_url} ({_attempts(exc.request.headers)})"
            ) from exc
        except openai.OpenAIError as exc:
            raise LLMBadResponse(f"the LLM call failed: {self._redact(str(exc))}") from None

    async def close(self) -> None:
        await self._client.close()

    def _read(self, text: str, *, latency_ms: float) -> Completion:
        try:
            body = json.loads(text)
        except ValueError:
            raise LLMBadResponse(f"the LLM endpoint's reply is not JSON: {self._excerpt(text)}") from None
        if not isinstance(body, dict):
            raise LLMBadResponse(f"the LLM endpoint's reply is not a JSON object: {self._excerpt(text)}")
        usage = _usage(body.get("usage"))
        model = body.get("model")
        model = model if isinstance(model, str) and model else self._model
        # price by the configured name first: OpenAI answers with dated names (gpt-4o-mini-2024-07-18)
        cost = self._prices.cost(self._model if self._model in self._prices else model, usage)
        try:
            content, tool_calls, finish_reason = self._message(body)
        except LLMBadResponse as exc:  # an unusable reply still used tokens: they are counted
            exc.usage, exc.cost_usd = usage, cost
            raise
        return Completion(
            text=content,
            tool_calls=tool_calls,
            usage=usage,
            model=model,
            cost_usd=cost,
            latency_ms=latency_ms,
            finish_reason=finish_reason,
        )

    def _message(self, body: dict[str, Any]) -> tuple[str | None, tuple[ToolCall, ...], str | None]:
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
            raise LLMBadResponse(f"the model refused: {self._excerpt(refusal)}", finish_reason=finish_reason)
        if finish_reason == "content_filter":
            raise LLMBadResponse("the LLM endpoint's content filter withheld the reply", finish_reason=finish_reason)
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise LLMBadResponse(f"the LLM endpoint's reply has content that is not text: {type(content).__name__}")
        tool_calls = self._tool_calls(message.get("tool_calls"))
        if content is None and not tool_calls:
            raise LLMBadResponse(
                f"the LLM endpoint's reply has neither text nor tool calls (finish_reason={finish_reason})",
                finish_reason=finish_reason,
            )
        return content, tool_calls, finish_reason

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

    def _status_error(self, exc: openai.APIStatusError, *, tools_offered: bool) -> LLMError:
        status = exc.status_code
        attempts = _attempts(exc.response.request.headers)
        detail = self._server_message(exc)
        if tools_offered and status not in _NOT_ABOUT_TOOLS and "tool" in detail.lower():
            return LLMToolsRefused(
                f"the LLM endpoint refused a request offering tools (HTTP {status}, {attempts}): {detail}",
                status=status,
            )
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


def _endpoint_failed(exc: LLMError) -> bool:
    """What trips the breaker: no answer (refused, timed out) or a 5xx; a 4xx, even a 429, means it is there."""
    return isinstance(exc, LLMTimeout) or (isinstance(exc, LLMUnavailable) and exc.status != 429)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


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
