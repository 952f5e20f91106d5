"""Model-filled workflow inputs are kept only when the customer's own messages contain them.

A value is grounded when it can be found in, or derived from, what the customer wrote in this conversation
(never the bot's or staff's turns, the knowledge base or the tool schema's examples), per kind of input:

- order id: the same id in a customer message, ignoring case and spaces around its hyphen ("a-10231",
  "A - 10231" and "A10231" ground "A-10231"; a bare "10231" does not, the letters are part of the id);
- amount in cents: a number the customer wrote, read as dollars ("40", "$40", "40.00", "40 dollars" →
  4000) or as cents when they said so ("4000 cents"); digits inside an order id, an e-mail address or a
  code such as E120 do not count. Amounts in words ("forty") are not understood: the customer is asked;
- e-mail address: the same address, whole and case-insensitive, in a customer message;
- anything else (a reason, free text): the customer's own words, a quote of one of their messages
  (ignoring case, spacing and surrounding punctuation); a paraphrase is not the customer's words.

Where a kept input came from is one of `CUSTOMER` (read from the customer's text by the offline extractor),
`MODEL` (filled by the model and grounded here) or `LOOKUP` (taken from a back-end lookup).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handlers.workflows import EMAIL_ADDRESS, plain_number

CUSTOMER, MODEL, LOOKUP = "customer", "model", "lookup"
SOURCES = (CUSTOMER, MODEL, LOOKUP)

_ORDER_LIKE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,3})(?:\s*-\s*|)(\d{4,10})(?!\d)")
# a number standing on its own: not glued to letters or digits before it (E120, A-10231 are not amounts)
_NUMBER = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:[.,]\d{1,2})?)(?![\d])(\s*(?:cents?\b|¢))?", re.IGNORECASE
)
_EDGE_PUNCTUATION = " \t\n\"'“”‘’.,;:!?()[]"


@dataclass(frozen=True)
class Grounding:
    kept: dict[str, Any]
    dropped: dict[str, str]  # input name -> why it was dropped, naming the value


def ground(values: dict[str, Any], customer_texts: Sequence[str]) -> Grounding:
    """Split model-filled `values` into those the customer's messages support and those they do not."""
    kept: dict[str, Any] = {}
    dropped: dict[str, str] = {}
    for name, value in values.items():
        why = _unsupported(name, value, customer_texts)
        if why is None:
            kept[name] = value
        else:
            dropped[name] = f"{name}={value!r}: {why}"
    return Grounding(kept, dropped)


def _unsupported(name: str, value: Any, texts: Sequence[str]) -> str | None:
    """None when `value` is grounded in `texts`, else why not."""
    if name == "order_id" or name.endswith("_order_id"):
        wanted = _order_key(str(value))
        found = wanted is not None and any(wanted in order_ids_in(text) for text in texts)
        return None if found else "no such order number in the customer's messages"
    if name.endswith("email"):
        found = any(str(value).lower() in emails_in(text) for text in texts)
        return None if found else "the customer never wrote that e-mail address"
    if name.endswith("_cents") or (isinstance(value, int | float) and not isinstance(value, bool)):
        found = isinstance(value, int) and any(value in amounts_in(text) for text in texts)
        return None if found else "the customer never wrote that amount"
    if isinstance(value, str):
        quote = _plain(value)
        found = bool(quote) and any(quote in _plain(text) for text in texts)
        return None if found else "not the customer's own words"
    return f"a {type(value).__name__} cannot be checked against the customer's words"


def order_ids_in(text: str) -> set[str]:
    """Order ids in `text`, normalised like `_order_key`."""
    return {f"{letters.upper()}-{digits}" for letters, digits in _ORDER_LIKE.findall(text)}


def _order_key(value: str) -> str | None:
    match = _ORDER_LIKE.fullmatch(value.strip())
    return f"{match.group(1).upper()}-{match.group(2)}" if match else None


def emails_in(text: str) -> set[str]:
    return {email.lower() for email in EMAIL_ADDRESS.findall(text)}


def amounts_in(text: str) -> set[int]:
    """Every amount in cents that a number in `text` can stand for."""
    text = EMAIL_ADDRESS.sub(" ", _ORDER_LIKE.sub(" ", text))
    amounts: set[int] = set()
    for number, cents_word in _NUMBER.findall(text):
        plain = plain_number(number)
        amounts.add(round(float(plain)) if cents_word.strip() else round(float(plain) * 100))
    return amounts


def _plain(text: str) -> str:
    return " ".join(text.casefold().split()).strip(_EDGE_PUNCTUATION)
