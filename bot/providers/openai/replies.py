"""A chat completion's reply body, read from the raw JSON rather than through the client's models.

OpenAI-compatible servers differ in the details, and a malformed reply must become `LLMBadResponse`, not an
attribute error deep in the core.
"""

from __future__ import annotations

import json
from typing import Any

from bot.providers.openai.errors import Redactor
from handlers.llm import Completion, LLMBadResponse, PriceTable, ToolCall, Usage


def read_completion(text: str, *, model: str, prices: PriceTable, latency_ms: float, redactor: Redactor) -> Completion:
    """`model` is the configured name: the reply's own name is kept when it gives one."""
    try:
        body = json.loads(text)
    except ValueError:
        raise LLMBadResponse(f"the LLM endpoint's reply is not JSON: {redactor.excerpt(text)}") from None
    if not isinstance(body, dict):
        raise LLMBadResponse(f"the LLM endpoint's reply is not a JSON object: {redactor.excerpt(text)}")
    usage = _usage(body.get("usage"))
    answered_by = body.get("model")
    answered_by = answered_by if isinstance(answered_by, str) and answered_by else model
    # price by the configured name first: OpenAI answers with dated names (gpt-4o-mini-2024-07-18)
    cost = prices.cost(model if model in prices else answered_by, usage)
    try:
        content, tool_calls, finish_reason = _message(body, redactor)
    except LLMBadResponse as exc:  # an unusable reply still used tokens: they are counted
        exc.usage, exc.cost_usd = usage, cost
        raise
    return Completion(
        text=content,
        tool_calls=tool_calls,
        usage=usage,
        model=answered_by,
        cost_usd=cost,
        latency_ms=latency_ms,
        finish_reason=finish_reason,
    )


def _message(body: dict[str, Any], redactor: Redactor) -> tuple[str | None, tuple[ToolCall, ...], str | None]:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        error = body.get("error")
        if error:
            raise LLMBadResponse(f"the LLM endpoint answered with an error: {redactor.excerpt(json.dumps(error))}")
        raise LLMBadResponse("the LLM endpoint's reply has no choices")
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise LLMBadResponse("the LLM endpoint's reply has a choice without a message")
    finish_reason = choice.get("finish_reason")
    finish_reason = finish_reason if isinstance(finish_reason, str) else None
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        raise LLMBadResponse(f"the model refused: {redactor.excerpt(refusal)}", finish_reason=finish_reason)
    if finish_reason == "content_filter":
        raise LLMBadResponse("the LLM endpoint's content filter withheld the reply", finish_reason=finish_reason)
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise LLMBadResponse(f"the LLM endpoint's reply has content that is not text: {type(content).__name__}")
    tool_calls = _tool_calls(message.get("tool_calls"), redactor)
    if content is None and not tool_calls:
        raise LLMBadResponse(
            f"the LLM endpoint's reply has neither text nor tool calls (finish_reason={finish_reason})",
            finish_reason=finish_reason,
        )
    return content, tool_calls, finish_reason


def _tool_calls(value: object, redactor: Redactor) -> tuple[ToolCall, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise LLMBadResponse("the LLM endpoint's reply has tool_calls that are not a list")
    calls = []
    for index, item in enumerate(value):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise LLMBadResponse(
                f"the LLM endpoint's reply has a tool call without a function name: {redactor.excerpt(repr(item))}"
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


def _usage(value: object) -> Usage:
    if not isinstance(value, dict):
        return Usage(prompt_tokens=0, completion_tokens=0)
    return Usage(
        prompt_tokens=_count(value.get("prompt_tokens")), completion_tokens=_count(value.get("completion_tokens"))
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
