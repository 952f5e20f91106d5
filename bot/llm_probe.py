"""The start-up check of a model endpoint: does it call tools?

A server that ignores `tools` (many local models) still got a routing call every turn: hundreds of junk
tokens, up to minutes on a CPU, for nothing. One tiny request at start-up, offering one trivial tool and
requiring a call, tells: a tool call means yes; a text reply, or a 4xx that mentions tools, means no, and the
offline router routes every message. An endpoint that cannot be reached does not stop start-up: the answer
stays unknown, routing calls are tried per turn (and stop if their replies never call a tool), and the
circuit breaker applies.
"""

from __future__ import annotations

import logging
from typing import Literal

from bot.llm_openai import OpenAIChatModel
from handlers.llm import Deadline, LLMBadResponse, LLMError, Message, ToolSpec

log = logging.getLogger(__name__)

PROBE_SECONDS = 10.0  # a cold local model may load for a while; start-up waits no longer than this
_PING = ToolSpec(
    name="ping",
    description="Confirms that tool calls work. Always call it.",
    parameters={"type": "object", "properties": {}, "additionalProperties": False},
)
_ASK = [
    Message("system", "You are being checked for tool calling. Call the ping tool; do not write any text."),
    Message("user", "ping"),
]
_REJECTED_AS_SUCH = {401, 403, 404, 429}  # the key, the model name, rate limits: not a verdict on tools


async def probe_tools(model: OpenAIChatModel, *, seconds: float = PROBE_SECONDS) -> bool | None:
    """Ask once; record and log the verdict (True, False, or None for unknown) on `model`."""
    supported, reason = await _ask(model, seconds)
    model.tool_support.probed(supported, reason)
    where = f"LLM {model.name} at {model.base_url}"
    if supported:
        log.info("%s calls tools: it routes messages with the offline router as the floor", where)
    elif supported is False:
        log.warning(
            "%s does not call tools (%s): the offline router routes every message; the model only drafts answers",
            where,
            reason,
        )
    else:
        log.warning(
            "%s: could not check whether it calls tools (%s); routing calls are tried per turn and the circuit "
            "breaker stops them while the endpoint fails",
            where,
            reason,
        )
    return supported


async def _ask(model: OpenAIChatModel, seconds: float) -> tuple[bool | None, str]:
    deadline = Deadline(seconds)
    choices: tuple[Literal["required", "auto"], ...] = ("required", "auto")
    for choice in choices:
        try:
            completion = await model.complete(_ASK, tools=[_PING], max_tokens=32, deadline=deadline, tool_choice=choice)
        except LLMBadResponse as exc:
            text = str(exc)
            if exc.status is None or exc.status in _REJECTED_AS_SUCH or "tool" not in text.lower():
                return None, text
            if choice == "required" and "tool_choice" in text:
                continue  # it knows tools but not a required call: ask again the ordinary way
            return False, f"it refused a request offering a tool: {text}"
        except LLMError as exc:  # unreachable, 5xx, time-out, circuit open
            return None, str(exc)
        if completion.tool_calls:
            return True, f"it called the {completion.tool_calls[0].name} tool when asked to"
        return False, "it answered with text when a tool call was required (it ignores `tools`)"
    return None, "the endpoint refused both ways of asking for a tool call"
