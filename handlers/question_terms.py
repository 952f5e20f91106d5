"""What a question asks for, in words a passage can be matched on: its content words, the codes and numbers it
names exactly, whether it wants a quantity or steps, and its parts when it asks two things at once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+")
# identifiers said exactly: E118, A-10231, AG-20817734, CR2477, order_not_cancellable (not 2FA or 5GHz: a code
# has two digits or more)
_CODE = re.compile(
    r"\b(?:[a-z]+[-_]?\d{2,}[a-z0-9-]*|[a-z]+[-_]?\d[a-z]+\d[a-z0-9-]*|\d{2,}[a-z]+\d*|[a-z]+(?:_[a-z]+)+)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
_STOP = frozenset(
    (  # noqa: SIM905 - a word list reads best as words
        "a an the and or but if of to in on for with at by from is are was were be been do does did how what when "
        "where why who which can could would should i me my we our you your it its this that these those there have "
        "has had not no yes please get got will am any some about into than then so just also may might must "
        "need want let tell know thing something anything one ones hi hello thanks thank "
        # the wording of a question rather than its subject: "how long does it take to show up"
        "long much many soon often up show take takes taking happen now still exactly actually"
    ).split()
)
# a question after an amount of something: a passage that states that kind of amount answers it better
_WANTS = {
    "duration": re.compile(
        r"\b(how (long|soon|often|fast)|until|what time|by when|deadline|cut-?off|expire|valid)\b", re.IGNORECASE
    ),
    "money": re.compile(r"\b(how much|cost|costs|fee|fees)\b", re.IGNORECASE),
    "count": re.compile(r"\b(how many|limit|limits|maximum|minimum|max|min)\b", re.IGNORECASE),
}
_AMOUNTS = {
    "duration": re.compile(
        r"\d\s*(?:-|–|to)?\s*\d*\s*(?:business\s+)?(?:second|minute|hour|day|week|month|year)s?\b|\b\d{1,2}(?::\d\d)?\s*[ap]\.?m\b"
        r"|\b\d{1,2}\s+(?:january|february|march|april|may|june|july|august|september|october|november|december)\b",
        re.IGNORECASE,
    ),
    "money": re.compile(r"[$€£]\s?\d|\d\s?%|\bfree\b", re.IGNORECASE),
    "count": re.compile(r"\d"),
}
_HOW_TO = re.compile(r"\b(how (do|can|should) (i|we|you)|how to|steps?|where (do|can) (i|we))\b", re.IGNORECASE)
# where a message asking two things splits: a second question mark, or "and" before a new question word
_PART_BREAK = re.compile(
    r"\?\s+|[,;]?\s+and\s+(?=(?:where|when|how|what|who|which|why|is|are|can|do|does|will|should)\b)", re.IGNORECASE
)


def stem(word: str) -> str:
    """Plural and tense endings off, enough for "returns"/"returned"/"returning" to meet "return"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for ending in ("ing", "ed"):
        if len(word) > len(ending) + 3 and word.endswith(ending):
            return word[: -len(ending)].rstrip("e")
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 7 and word.endswith("ation"):  # "confirmation" meets "confirm"
        return word[:-5]
    return word.rstrip("e") if len(word) > 4 else word


# the same place said two ways: "EU" in a question meets "European Union" in a table
_ALIASES = re.compile(r"\b(european union|united states|united kingdom)\b")
_ALIAS_OF = {"european union": "eu", "united states": "us", "united kingdom": "uk"}


@lru_cache(maxsize=32768)
def words(text: str) -> frozenset[str]:
    """Content words, stemmed; stop words and single characters left out (remembered: passages repeat)."""
    lowered = _ALIASES.sub(lambda found: _ALIAS_OF[found.group(1)], text.lower())
    return frozenset(stem(word) for word in _WORD.findall(lowered) if word not in _STOP and len(word) > 1)


@lru_cache(maxsize=32768)
def codes_in(text: str) -> frozenset[str]:
    return frozenset(code.lower() for code in _CODE.findall(text))


@lru_cache(maxsize=32768)
def numbers_in(text: str) -> frozenset[str]:
    """Numbers worth matching exactly: two digits or more ("Hub 2" names a product, "409" a status)."""
    return frozenset(number.replace(",", "") for number in _NUMBER.findall(text) if len(number) > 1)


@dataclass(frozen=True)
class Part:
    """One of the things a message asks ("how long does a refund take" / "where does the money go")."""

    words: frozenset[str]
    wants: frozenset[str]  # the kind of amount this part asks for, if any


@dataclass(frozen=True)
class Terms:
    weights: dict[str, float]  # stemmed word -> weight: 1 for the message's words, less for earlier context
    codes: frozenset[str]
    numbers: frozenset[str]
    wants: frozenset[str]  # the kinds of amount asked for: "duration", "money", "count"
    how_to: bool  # "how do I": steps answer it
    parts: tuple[Part, ...]  # each thing asked, when the message asks more than one

    def amount_in(self, text: str, wants: frozenset[str] | None = None) -> bool:
        """Does `text` state the kind of amount the question (or one part: `wants`) asks for ("60 minutes" for
        "how long")?"""
        return any(_AMOUNTS[kind].search(text) for kind in (self.wants if wants is None else wants))

    @property
    def exact(self) -> frozenset[str]:
        """What must appear as written in a passage that answers: codes and numbers."""
        return self.codes | self.numbers


CONTEXT_WEIGHT = 0.5  # an earlier question's words count, but the new message decides between rows


def _wanted(text: str) -> frozenset[str]:
    return frozenset(kind for kind, asks in _WANTS.items() if asks.search(text))


def question_terms(text: str, *, context: str | None = None) -> Terms:
    """`context`: the earlier question a follow-up ("And for the EU plug?") leans on."""
    own = words(text)
    weights = dict.fromkeys(own, 1.0)
    for word in words(context or "") - own:
        weights[word] = CONTEXT_WEIGHT
    pieces = [piece for piece in _PART_BREAK.split(text) if piece and words(piece)]
    parts = tuple(Part(words(piece), _wanted(piece)) for piece in pieces)
    return Terms(
        weights=weights,
        codes=frozenset(codes_in(text)),
        numbers=frozenset(numbers_in(text) - {n for code in codes_in(text) for n in numbers_in(code)}),
        # "What about Klarna?" after "How long do refunds to PayPal take?" still asks how long
        wants=_wanted(text) | (_wanted(context) if context else frozenset()),
        how_to=bool(_HOW_TO.search(text)),
        parts=parts if len(parts) > 1 else (),
    )
