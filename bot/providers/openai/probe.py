"""The start-up check of a model endpoint: does it call tools?

A server that ignores `tools` (many local models) still got a routing call every turn: hundreds of junk
tokens, up to minutes on a CPU, for nothing. One tiny request at start-up, offering one trivial tool and
asking for it to be called, tells: a tool call means yes; a text reply, or a refusal that mentions tools
(Ollama's 400 "does not support tools", older llama.cpp's 500 "tools param requires --jinja flag"), means
no, and the offline router routes every message. An endpoint that cannot be reached does not stop start-up:
the answer stays unknown, routing calls are tried per turn (and stop if their replies never call a tool),
and the circuit breaker applies.
"""

from __future__ import annotations

import logging

from bot.providers.openai.chat import OpenAIChatModel
from handlers.llm import Deadline, LLMError, LLMToolsRefused, Message, ToolSpec

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
    # asked the way routing asks (tool_choice "auto"), so the verdict is what routing calls would get
    try:
        completion = await model.complete(_ASK, tools=[_PING], max_tokens=32, deadline=Deadline(seconds))
    except LLMToolsRefused as exc:
        return False, str(exc)
    except LLMError as exc:  # unreachable, 5xx, time-out, a wrong key or model name, an unusable reply
        return None, str(exc)
    if completion.tool_calls:
        return True, f"it called the {completion.tool_calls[0].name} tool when asked to"
    return False, "it answered with text when asked to call a tool (it ignores `tools`)"
