"""The language-model port: what the conversation core may ask of an LLM and what it gets back.

No vendor SDK here: the OpenAI-compatible implementation lives in `bot/`, tests use fakes.
Tool-call arguments stay the raw JSON text the model wrote, never parsed here: the model
proposes, and the caller validates the arguments with pydantic before anything acts on them.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Literal, NamedTuple, Protocol, TypedDict

from handlers.errors import HandlersError

log = logging.getLogger(__name__)

Role = Literal["system", "user", "assistant", "tool"]

# what OpenAI accepts as a function name; other servers are at least as strict
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class CallOutcome(StrEnum):
    """What became of one model call, as decision records (`model_calls[].outcome`) and the digest count it."""

    OK = "ok"  # a usable reply
    FAILED = "failed"  # the endpoint answered, but refused the request (4xx) or sent something unusable
    UNAVAILABLE = "unavailable"  # refused connections, 5xx, rate limits beyond the retries
    TIMEOUT = "timeout"  # no reply within an attempt's time-out or the turn's deadline
    SKIPPED = "skipped"  # not sent: the circuit breaker is open after repeated failures
    REJECTED = "rejected"  # a usable reply that a check refused (a draft that echoes, claims or misquotes)
    NOT_FOUND = "not_found"  # the drafting model read the passages and found no answer in them


class CallAccounting(TypedDict):
    """The keywords `DecisionRecord.count_model_call` takes about how a call went."""

    outcome: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    finish_reason: str | None
    latency_ms: float | None
    detail: str


class LLMError(HandlersError):
    """A language-model call failed; the message says what happened in words.

    The fields are what a decision record counts for the call: every attempt, and the tokens of a reply that
    arrived but could not be used. A timed-out attempt has no reply and so no usage: it is counted with 0
    tokens (never an estimate) and outcome "timeout", and `attempts` says how many requests were sent.
    """

    outcome: ClassVar[CallOutcome] = CallOutcome.FAILED

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        attempts: int = 1,
        latency_ms: float | None = None,
        usage: Usage | None = None,
        cost_usd: float | None = 0.0,
        finish_reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status when the endpoint answered with one
        self.attempts = attempts  # requests sent, retries included; 0 when none was
        self.latency_ms = latency_ms  # wall time of the whole call, retries included
        self.usage = usage or Usage(prompt_tokens=0, completion_tokens=0)
        self.cost_usd = cost_usd  # None: the model has no price, so the turn's cost is unknown
        self.finish_reason = finish_reason

    @property
    def prompt_tokens(self) -> int:
        return self.usage.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self.usage.completion_tokens

    def accounting(self) -> CallAccounting:
        """`record.count_model_call(step, model=..., prompt_version=..., **error.accounting())`."""
        return CallAccounting(
            outcome=self.outcome.value,
            prompt_tokens=self.usage.prompt_tokens,
            completion_tokens=self.usage.completion_tokens,
            cost_usd=self.cost_usd,
            finish_reason=self.finish_reason,
            latency_ms=self.latency_ms,
            detail=str(self),
        )


class LLMTimeout(LLMError):
    """The endpoint did not answer in time: an attempt's time-out, or the turn's deadline, retries included."""

    outcome = CallOutcome.TIMEOUT


class LLMUnavailable(LLMError):
    """The endpoint could not be reached, failed (5xx) or kept rate-limiting (429), retries included."""

    outcome = CallOutcome.UNAVAILABLE


class LLMCircuitOpen(LLMUnavailable):
    """Not sent: the endpoint failed again and again, so it is left alone for a cool-down (no time spent)."""

    outcome = CallOutcome.SKIPPED


class LLMBadResponse(LLMError):
    """The endpoint refused the request (4xx) or answered with something unusable."""


class LLMToolsRefused(LLMBadResponse):
    """The endpoint refused a request because it offered tools: this model (or server) does not call tools.

    Seen as a 400 from Ollama ("... does not support tools"), from vLLM without `--enable-auto-tool-choice`,
    and as a 500 from older llama.cpp servers ("tools param requires --jinja flag"): not an outage.
    """


class BadPriceTable(HandlersError, ValueError):
    """A price table setting cannot be read; the message names the bad part."""


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # the raw JSON text the model wrote; may be invalid, may name unknown fields


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    tool_call_id: str | None = None  # on `tool` messages: the call this message answers
    tool_calls: tuple[ToolCall, ...] = ()  # on `assistant` messages: the calls the model made

    def __post_init__(self) -> None:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id of the call it answers")
        if self.role != "tool" and self.tool_call_id is not None:
            raise ValueError(f"only tool messages carry a tool_call_id, not {self.role} messages")
        if self.tool_calls and self.role != "assistant":
            raise ValueError(f"only assistant messages carry tool calls, not {self.role} messages")

    @classmethod
    def tool_result(cls, call: ToolCall, content: str) -> Message:
        """The answer to one tool call, to send back to the model."""
        return cls(role="tool", content=content, tool_call_id=call.id)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # a JSON schema of an object, e.g. `SomeModel.model_json_schema()`

    def __post_init__(self) -> None:
        if not _TOOL_NAME.fullmatch(self.name):
            raise ValueError(f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-'")


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Completion:
    text: str | None
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    model: str  # the model that answered, as the endpoint names it
    cost_usd: float | None  # None: the model is missing from the price table ("price unknown", never $0)
    latency_ms: float  # wall time of the whole call, retries included
    finish_reason: str | None

    def as_message(self) -> Message:
        """This reply as the assistant turn to put back in the history before the tool results."""
        return Message(role="assistant", content=self.text or "", tool_calls=self.tool_calls)


class Deadline:
    """When every model call of one turn must be over, retries and slowly arriving bodies included."""

    def __init__(self, seconds: float) -> None:
        if not math.isfinite(seconds) or seconds <= 0:
            raise ValueError(f"a deadline is a positive number of seconds, not {seconds!r}")
        self.seconds = seconds
        self._at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left, never below 0."""
        return max(0.0, self._at - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0


class LanguageModel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def supports_tools(self) -> bool | None:
        """Does the endpoint call tools? None until known (a start-up probe, or replies seen at run time)."""
        ...

    async def complete(
        self,
        messages: list[Message],
        *,
        tools: list[ToolSpec] | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        deadline: Deadline | None = None,
    ) -> Completion: ...


class ModelPrice(NamedTuple):
    input_usd_per_million: float
    output_usd_per_million: float


class PriceTable:
    """USD per million input and output tokens, per model.

    A model missing from the table has no cost (None: "price unknown") and is flagged: logged once, and
    listed in `unknown_models`, so a wrong model name shows up rather than silently looking free. A model
    listed at 0/0 (a local one) is free: $0, not unknown.
    """

    def __init__(self, prices: Mapping[str, tuple[float, float]] | None = None) -> None:
        self._prices: dict[str, ModelPrice] = {}
        for model, (input_price, output_price) in (prices or {}).items():
            if not model or model != model.strip():
                raise BadPriceTable(f"price table: model name {model!r} is empty or has surrounding spaces")
            for price in (input_price, output_price):
                if not math.isfinite(price) or price < 0:
                    raise BadPriceTable(f"price table: {model}: price {price!r} must be a finite number >= 0")
            self._prices[model] = ModelPrice(float(input_price), float(output_price))
        self._unknown: set[str] = set()

    @classmethod
    def parse(cls, text: str) -> PriceTable:
        """Read "gpt-4o-mini=0.15/0.60,llama3.1=0/0": model=input/output USD per 1M tokens.

        Model names may contain '/' and ':' (vLLM and Ollama names do) but not '=' or ','.
        """
        prices: dict[str, tuple[float, float]] = {}
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            model, equals, numbers = entry.partition("=")
            model = model.strip()
            if not equals or not model:
                raise BadPriceTable(
                    f"price table entry {entry!r} is not model=input/output, e.g. gpt-4o-mini=0.15/0.60"
                )
            if model in prices:
                raise BadPriceTable(f"price table names model {model!r} twice")
            parts = numbers.split("/")
            if len(parts) != 2:
                raise BadPriceTable(
                    f"price table entry {entry!r}: {numbers.strip()!r} should be two prices, input/output, "
                    "e.g. 0.15/0.60 (entries are separated by ',')"
                )
            prices[model] = (_price(parts[0], entry), _price(parts[1], entry))
        return cls(prices)

    def __contains__(self, model: object) -> bool:
        return model in self._prices

    def __len__(self) -> int:
        return len(self._prices)

    def __str__(self) -> str:
        return ",".join(
            f"{model}={p.input_usd_per_million:g}/{p.output_usd_per_million:g}" for model, p in self._prices.items()
        )

    def price(self, model: str) -> ModelPrice | None:
        return self._prices.get(model)

    def cost(self, model: str, usage: Usage) -> float | None:
        """USD for `usage`, or None when the table does not price `model`."""
        price = self._prices.get(model)
        if price is None:
            if model not in self._unknown:
                self._unknown.add(model)
                log.warning(
                    "no price for LLM model %r in LLM_PRICES: the cost of its calls is shown as unknown "
                    "(list it, e.g. %s=0/0 for a local model)",
                    model,
                    model,
                )
            return None
        return (
            usage.prompt_tokens * price.input_usd_per_million + usage.completion_tokens * price.output_usd_per_million
        ) / 1_000_000

    @property
    def unknown_models(self) -> frozenset[str]:
        """Models whose calls had no price because the table does not list them."""
        return frozenset(self._unknown)


def _price(text: str, entry: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadPriceTable(f"price table entry {entry!r}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise BadPriceTable(f"price table entry {entry!r}: {text.strip()!r} must be a finite number >= 0")
    return value
