"""Text PostgreSQL cannot store, cleaned once at the edge for every platform.

A NUL byte is refused by `text` and `jsonb`; a lone surrogate (JSON allows `"\\ud800"`) cannot be encoded
as UTF-8. Either would fail the decision record and the hand-off on the same message, so nobody would be
brought in: the edge replaces them before anything is stored."""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    """NUL bytes dropped, lone surrogates replaced by U+FFFD; everything else unchanged."""
    if not _UNSTORABLE.search(text):
        return text
    return _UNSTORABLE.sub(lambda found: "" if found.group() == "\x00" else REPLACEMENT, text)


def clean_payload(value: Any) -> Any:
    """The same for every string (keys included) of a parsed JSON document."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(key)): clean_payload(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_payload(item) for item in value]
    return value
