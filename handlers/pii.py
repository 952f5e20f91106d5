"""Personal data and secrets in free text: found and replaced by a label, for logs and (LLM_REDACT_PII) for what
the model is sent to answer. Deliberately conservative patterns: a missed phone number in a log is a smaller
harm than order numbers, dates and amounts turned into "[phone]" in every line an operator reads."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Slack tokens (xoxb-, xoxp-, xapp-…), OpenAI-style keys (sk-…), bearer credentials, key=value secrets
_SECRET = re.compile(
    r"\bxox[abposre]-[A-Za-z0-9-]{6,}|\bxapp-[A-Za-z0-9-]{6,}|\bsk-[A-Za-z0-9_-]{12,}"
    r"|(?i:\bbearer\s+)[A-Za-z0-9._~+/=-]{12,}"
    r"|(?i:\b(?:password|passwd|secret|token|api[_-]?key)\b\s*[=:]\s*)[^\s,;\"']{4,}"
)
# 13-19 digits in groups separated by single spaces or dashes; kept only if the Luhn check passes
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
# international (+country) or grouped national numbers: 3+ groups, or a + prefix; never plain dates or ids
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,3}"
    r"|\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}"
    r"|\d{3}[ .-]\d{3,4}[ .-]\d{4})(?![\w.]\d|\w)"
)


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str | None:
    digits = re.sub(r"\D", "", match.group())
    return "[card]" if _luhn(digits) else None


@dataclass(frozen=True)
class Redacted:
    text: str
    kinds: tuple[str, ...]  # what was taken out, e.g. ("email", "card"), in a fixed order

    @property
    def changed(self) -> bool:
        return bool(self.kinds)


# secrets first (a key may contain digits a card or phone pattern would take half of), phones last
_RULES: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str]], str | None]], ...] = (
    ("secret", _SECRET, lambda _: "[secret]"),
    ("email", _EMAIL, lambda _: "[email]"),
    ("card", _CARD, _card),
    ("phone", _PHONE, lambda _: "[phone]"),
)


def redact(text: str) -> Redacted:
    """`text` with e-mail addresses, card numbers, phone numbers and tokens replaced by `[email]`, `[card]`,
    `[phone]` and `[secret]`; `kinds` says which were found."""
    found: list[str] = []
    for kind, pattern, replace in _RULES:
        hits = 0

        def substitute(match: re.Match[str], replace: Callable[[re.Match[str]], str | None] = replace) -> str:
            nonlocal hits
            label = replace(match)
            if label is None:
                return match.group()
            hits += 1
            return label

        text = pattern.sub(substitute, text)
        if hits:
            found.append(kind)
    return Redacted(text, tuple(found))


def redact_text(text: str) -> str:
    return redact(text).text
