"""The checkable facts of a text: numbers, codes, prices and dates, each in one canonical form.

A drafted answer may only state facts its cited passages (or the customer) stated: a model that miscopies
E120 as E110 or $40 as $45 must be caught, while $40 and $40.00, 30-day and 30 days, or 3 March and March 3
are the same fact. The draft side is read strictly; the source side is read generously (a price also
supports its bare number, an order id its digits, a number word its number), because a missed mistake
reaches a customer while a false alarm only falls back to quoting the passages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from handlers.models import CITATION_MARKER

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(\d{4})"
_NUMBER = r"\d+(?:[.,]\d+)*"
_SYMBOLS = {"$": "$", "€": "€", "£": "£"}
_CURRENCY_WORDS = {
    "usd": "$",
    "dollar": "$",
    "dollars": "$",
    "eur": "€",
    "euro": "€",
    "euros": "€",
    "gbp": "£",
    "pound": "£",
    "pounds": "£",
}
_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "  # noqa: SIM905 - a word list reads best as words
        "sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100, "thousand": 1000}

_LIST_MARKER = re.compile(r"^\s*\d{1,2}[.)](?=\s)", re.MULTILINE)
_ISO_DATE = re.compile(rf"\b{_YEAR}-(\d{{1,2}})-(\d{{1,2}})\b")
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?:,?\s+{_YEAR}\b)?", re.IGNORECASE)
_DAY_MONTH = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR}\b)?", re.IGNORECASE)
_MONTH_YEAR = re.compile(rf"\b{_MONTH}\s+{_YEAR}\b", re.IGNORECASE)
_SYMBOL_PRICE = re.compile(rf"([$€£])\s?({_NUMBER})")
_WORD_PRICE = re.compile(rf"\b({_NUMBER})\s?({'|'.join(_CURRENCY_WORDS)})\b", re.IGNORECASE)
# letters then digits, optionally joined by hyphens: E120, A-10231, DX-7F3K2Q, SKU-12-34
_CODE = re.compile(r"\b[A-Za-z]{1,5}-?\d[A-Za-z0-9]*(?:-[A-Za-z]*\d[A-Za-z0-9]*)*\b")
_PLAIN_NUMBER = re.compile(rf"(?<![\w.]){_NUMBER}")
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Fact:
    kind: str  # "number", "code", "price", "date", "month"
    value: str  # canonical: "40", "E120", "$40", "03-03", "2026-03"
    shown: str  # as the text wrote it, for the reason given to a person

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.value


def number_value(text: str) -> str:
    """One spelling per number: 1,000 -> 1000, 40.00 -> 40, 07 -> 7, 2,5 -> 2.5; a version (2.4.1) stays as is."""
    parts = text.split(",")
    if len(parts) > 1 and all(len(part.split(".")[0]) == 3 for part in parts[1:]):
        text = "".join(parts)  # thousands separators
    elif len(parts) == 2 and len(parts[1]) <= 2 and "." not in text:
        text = ".".join(parts)  # a decimal comma
    if text.count(".") > 1:
        return text
    whole, _, fraction = text.partition(".")
    whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


def _month(name: str) -> int:
    return _MONTHS[name.lower().rstrip(".")]


def _number(text: str) -> Fact:
    return Fact("number", number_value(text), text)


def _date(month: str, day: str, year: str | None, shown: str) -> list[Fact]:
    facts = [Fact("date", f"{_month(month):02d}-{int(day):02d}", shown)]
    return facts + ([_number(year)] if year else [])


Reader = Callable[[re.Match[str]], list[Fact]]


def facts_of(text: str, *, skip_list_markers: bool = False) -> list[Fact]:
    """Every number, code, price and date in `text`, in the order the text gives them."""
    text = CITATION_MARKER.sub(lambda m: " " * len(m.group()), text)
    if skip_list_markers:
        text = _LIST_MARKER.sub(lambda m: " " * len(m.group()), text)
    found: list[tuple[int, Fact]] = []

    def take(pattern: re.Pattern[str], read: Reader) -> None:
        # each match is blanked out once read, so that the digits of a date or a price do not count again
        nonlocal text

        def blank(match: re.Match[str]) -> str:
            found.extend((match.start(), fact) for fact in read(match))
            return " " * len(match.group())

        text = pattern.sub(blank, text)

    take(_ISO_DATE, lambda m: [Fact("date", f"{int(m[2]):02d}-{int(m[3]):02d}", m[0]), _number(m[1])])
    take(_MONTH_DAY, lambda m: _date(m[1], m[2], m[3], m[0]))
    take(_DAY_MONTH, lambda m: _date(m[2], m[1], m[3], m[0]))
    take(_MONTH_YEAR, lambda m: [Fact("month", f"{m[2]}-{_month(m[1]):02d}", m[0])])
    take(_SYMBOL_PRICE, lambda m: [Fact("price", _SYMBOLS[m[1]] + number_value(m[2]), m[0])])
    take(_WORD_PRICE, lambda m: [Fact("price", _CURRENCY_WORDS[m[2].lower()] + number_value(m[1]), m[0])])
    take(_CODE, lambda m: [Fact("code", m[0].upper().replace("-", ""), m[0])])
    take(_PLAIN_NUMBER, lambda m: [_number(m[0])])
    return [fact for _, fact in sorted(found, key=lambda pair: pair[0])]


def supported_facts(*sources: str) -> set[tuple[str, str]]:
    """What the sources state, read generously: a price also states its number, a code its digits."""
    keys: set[tuple[str, str]] = set()
    for source in sources:
        for fact in facts_of(source):
            keys.add(fact.key)
            if fact.kind == "price":
                keys.add(("number", fact.value[1:]))
            elif fact.kind == "code":
                keys.update(("number", number_value(digits)) for digits in re.findall(r"\d+", fact.value))
        keys.update(
            ("number", str(_NUMBER_WORDS[word])) for word in _WORD.findall(source.lower()) if word in _NUMBER_WORDS
        )
    return keys


def _supported(fact: Fact, supported: set[tuple[str, str]]) -> bool:
    if fact.key in supported:
        return True
    if fact.kind != "price":
        return False
    # "$40" against a passage that gives the bare 40: fine unless the passage prices 40 in another currency
    amount = fact.value[1:]
    other_currency = any(("price", symbol + amount) in supported for symbol in _SYMBOLS.values())
    return ("number", amount) in supported and not other_currency


def unsupported_facts(draft: str, *sources: str) -> list[str]:
    """The draft's facts that no source states, as the draft wrote them, each once."""
    supported = supported_facts(*sources)
    missing = [fact.shown for fact in facts_of(draft, skip_list_markers=True) if not _supported(fact, supported)]
    return list(dict.fromkeys(missing))
