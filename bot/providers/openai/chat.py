"""Chat completions from any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp).

The openai client does the HTTP, the per-attempt time-outs and the retries (5xx, 429, 408, connection
errors, with back-off and `Retry-After`). Around it: the turn's `Deadline` bounds the whole call, retries
and a slowly trickling body included (the client's time-out is per read, so a server sending a byte every
few seconds never trips it); a cancelled request closes its connection, so a single-slot local server stops
working on it. A circuit breaker stops calling an endpoint that keeps failing, and the model learns whether
the endpoint calls tools. The reply body is read in `replies`, failures are translated in `errors`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass

import openai
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from bot.providers.openai.errors import Redactor, attempts_made, endpoint_failed, plural, status_error
from bot.providers.openai.replies import read_completion
from bot.providers.openai.wire import wire_message, wire_tool
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
    ToolSpec,
)
from handlers.llm_health import CIRCUIT_OPENED, CircuitBreaker, ModelHealth, ToolSupport

log = logging.getLogger(__name__)
tracer = trace.get_tracer("supportbot.llm")

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
        self._redactor = Redactor(api_key)
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
            if endpoint_failed(exc):
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
            latency_ms = (time.perf_counter() - started) * 1000
            return read_completion(
                text, model=self._model, prices=self._prices, latency_ms=latency_ms, redactor=self._redactor
            )
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
                    messages=[wire_message(message) for message in request.messages],
                    tools=[wire_tool(tool) for tool in request.tools] if request.tools else openai.omit,
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
                f"({plural(attempts[0], 'attempt')}); the request was abandoned"
            ) from None
        except openai.APIStatusError as exc:
            # `from None`: the client's message quotes the server's text, which we redact here
            raise status_error(
                exc, model=self._model, tools_offered=bool(request.tools), redactor=self._redactor
            ) from None
        except openai.APITimeoutError as exc:
            raise LLMTimeout(
                f"the LLM endpoint did not answer within {per_attempt:.3g} s ({attempts_made(exc.request.headers)})"
            ) from exc
        except openai.APIConnectionError as exc:
            where = self._client.base_url
            raise LLMUnavailable(
                f"could not connect to the LLM endpoint at {where} ({attempts_made(exc.request.headers)})"
            ) from exc
        except openai.OpenAIError as exc:
            raise LLMBadResponse(f"the LLM call failed: {self._redactor.redact(str(exc))}") from None

    async def close(self) -> None:
        await self._client.close()
