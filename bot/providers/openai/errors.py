"""The openai client's failures as the core's `LLMError`s, with the server's words quoted but never the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import openai

from handlers.llm import LLMBadResponse, LLMError, LLMTimeout, LLMToolsRefused, LLMUnavailable

_EXCERPT = 200  # characters of a server's text quoted in an error message
_NOT_ABOUT_TOOLS = frozenset({401, 403, 404, 408, 429})  # the key, the model, time, rate: whatever the text says


@dataclass(frozen=True)
class Redactor:
    """Every text of the server's that an error quotes goes through here: servers sometimes echo the key back."""

    api_key: str = field(repr=False)

    def redact(self, text: str) -> str:
        return text.replace(self.api_key, "[redacted]") if self.api_key else text

    def excerpt(self, text: str) -> str:
        text = self.redact(text)
        return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


def status_error(exc: openai.APIStatusError, *, model: str, tools_offered: bool, redactor: Redactor) -> LLMError:
    status = exc.status_code
    tries = attempts_made(exc.response.request.headers)
    detail = _server_message(exc, redactor)
    if tools_offered and status not in _NOT_ABOUT_TOOLS and "tool" in detail.lower():
        return LLMToolsRefused(
            f"the LLM endpoint refused a request offering tools (HTTP {status}, {tries}): {detail}", status=status
        )
    if status == 429:
        return LLMUnavailable(
            f"the LLM endpoint kept rate-limiting requests (HTTP 429, {tries}): {detail}", status=status
        )
    if status >= 500:
        return LLMUnavailable(f"the LLM endpoint failed (HTTP {status}, {tries}): {detail}", status=status)
    if status == 408:
        return LLMTimeout(f"the LLM endpoint timed out the request (HTTP 408, {tries})", status=status)
    what = {
        401: "rejected the API key",
        403: "refused access to the model",
        404: f"does not know model {model!r} or the path: check the model name and base URL",
    }.get(status, "rejected the request")
    return LLMBadResponse(f"the LLM endpoint {what} (HTTP {status}): {detail}", status=status)


def endpoint_failed(exc: LLMError) -> bool:
    """What trips the breaker: no answer (refused, timed out) or a 5xx; a 4xx, even a 429, means it is there."""
    return isinstance(exc, LLMTimeout) or (isinstance(exc, LLMUnavailable) and exc.status != 429)


def attempts_made(headers: Any) -> str:
    """How many times the client sent the request, from the retry counter it puts in each one."""
    try:
        count = int(headers.get("x-stainless-retry-count", "0")) + 1
    except ValueError:
        count = 1
    return "1 attempt" if count == 1 else f"{count} attempts"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _server_message(exc: openai.APIStatusError, redactor: Redactor) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return redactor.excerpt(body["message"])
    if isinstance(body, str) and body:
        return redactor.excerpt(body)
    return "no details given"
