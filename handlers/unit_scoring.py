"""How well each unit of the retrieved passages answers the question: meaning (the search's own embedder),
the question's words weighted by how rare they are among the passages, exact codes and numbers, and the
standing of the passage it comes from."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from handlers.question_terms import Terms, codes_in, numbers_in, words
from handlers.unit_vectors import UnitVectors, UnitVectorStore
from knowledge.embedder import Embedder
from knowledge.models import SearchResult
from knowledge.units import Unit, embedding_text, units_of

# Weights of the parts of a unit's score, chosen on the development set (examples/eval/acme-answers-dev.jsonl).
MEANING, WORDS, STANDING = 0.5, 0.5, 0.15
EXACT_BONUS = 0.4  # the unit names the code or number the question names
KEY_BONUS = 0.35  # ... and is about it: the code is its table row's first cell, or opens the sentence or item
AMOUNT_BONUS = 0.08  # a "how long / how much" question, and the unit states that kind of amount
STEP_BONUS = 0.15  # a "how do I" question, and the unit is a numbered step
CONTEXT_SHARE = 0.5  # a word found only around a unit (its table's header, its list's lead-in) counts half
PLACE = 0.1  # the question's words in the title and headings of the unit's passage
SECTION = 0.1  # the question's words in the headings of the unit's own section (the title left out)
TITLE_AMOUNT = 0.1  # a "how long / how much" question, and the unit states the amount its article's title names
HOW_TO_SECTION = 0.15  # a "how do I" question, and the unit is a step under a "How to …" heading naming its words


@dataclass(frozen=True)
class Scored:
    unit: Unit
    passage: int  # index into the search results
    document: int  # the passage's document (several passages can come from one)
    score: float
    exact: bool  # names one of the question's codes or numbers
    covered: frozenset[str]  # the question's words it contains, itself or in its context
    meaning: float = 0.0  # cosine with the question
    placed: frozenset[str] = frozenset()  # the question's words in its passage's title and headings


class UnitScorer:
    def __init__(self, embedder: Embedder, store: UnitVectorStore | None = None, *, embed_at_most: int = 16) -> None:
        self.vectors = UnitVectors(embedder, store, embed_at_most=embed_at_most)

    async def score(self, terms: Terms, query: str, results: list[SearchResult]) -> list[Scored]:
        units = [(index, unit) for index, result in enumerate(results) for unit in units_of(result.text)]
        if not units:
            return []
        rarity = _rarity([unit for _, unit in units])
        top = max(result.score for result in results) or 1.0
        possible = sum(weight * rarity.get(word, 1.0) for word, weight in terms.weights.items()) or 1.0
        # a passage whose title or heading names what is asked ("Damaged on arrival") speaks for all its units
        placed = [
            frozenset(terms.weights.keys() & words(" ".join((result.title, *result.heading_path))))
            for result in results
        ]
        places = [sum(terms.weights[word] * rarity.get(word, 1.0) for word in found) / possible for found in placed]
        # ... and its own section's headings more ("Pausing your membership" over the article's introduction)
        sections = [
            sum(terms.weights[word] * rarity.get(word, 1.0) for word in terms.weights.keys() & words(" ".join(path)))
            / possible
            for path in (result.heading_path for result in results)
        ]
        # a "how do I" question's steps under a "How to …" heading that names its words: once per passage
        how_to = [terms.how_to and _how_to_heading(result.heading_path, terms) for result in results]
        drafts = []
        for index, unit in units:
            own, around = words(unit.text), words(unit.context)
            covered = frozenset(word for word in terms.weights if word in own or word in around)
            matched = sum(
                terms.weights[word] * rarity.get(word, 1.0) * (1.0 if word in own else CONTEXT_SHARE)
                for word in covered
            )
            named = terms.exact & (codes_in(unit.text) | numbers_in(unit.text))
            exact = bool(named)
            standing = max(0.0, results[index].score / top)
            base = WORDS * matched / possible + STANDING * standing + PLACE * places[index] + SECTION * sections[index]
            if named:
                base += EXACT_BONUS * len(named) / len(terms.exact) + (KEY_BONUS if _about(unit, named) else 0.0)
            if terms.amount_in(unit.text):
                base += AMOUNT_BONUS
                if numbers_in(unit.text) & numbers_in(results[index].title):
                    base += TITLE_AMOUNT  # "within 30 days" under "the 30-day return window": the article's rule
            if terms.how_to and unit.step is not None:
                base += STEP_BONUS
                if how_to[index]:
                    base += HOW_TO_SECTION  # "How to reset" answers "how do I reset", not "Before you start"
            drafts.append((index, unit, base, exact, covered))
        meaning = await self._meaning(query, [(results[i].chunk_id, unit, base) for i, unit, base, _, _ in drafts])
        return [
            Scored(
                unit,
                index,
                results[index].document_id,
                base + MEANING * meaning[position],
                exact,
                covered,
                meaning[position],
                placed[index],
            )
            for position, (index, unit, base, exact, covered) in enumerate(drafts)
        ]

    async def _meaning(self, query: str, drafts: list[tuple[int, Unit, float]]) -> list[float]:
        """Cosine of each unit with the question, best candidates by words first (so the few embedded in a turn,
        when units have no stored vector, are the likeliest); a unit left without a vector gets the lowest."""
        order = sorted(range(len(drafts)), key=lambda i: -drafts[i][2])
        question = await self.vectors.question(query)
        vectors = await self.vectors.of([(drafts[i][0], embedding_text(drafts[i][1])) for i in order])
        known = {i: float(np.dot(question, v)) for i, v in zip(order, vectors, strict=True) if v is not None}
        floor = min(known.values(), default=0.0)
        return [known.get(i, floor) for i in range(len(drafts))]


def _about(unit: Unit, named: frozenset[str]) -> bool:
    """Does the unit define what it names ("E118 | Time sync failed", "**E111 – download failed:** …")?"""
    opening = unit.facts[0][1] if unit.facts else " ".join(unit.text.split()[:4])
    return bool(named & (codes_in(opening) | numbers_in(opening)))


def _how_to_heading(path: tuple[str, ...], terms: Terms) -> bool:
    """The unit's own section is "How to …" and its heading names one of the question's words."""
    heading = path[-1] if path else ""
    return heading.lower().startswith("how to ") and bool(terms.weights.keys() & words(heading))


def _rarity(units: list[Unit]) -> dict[str, float]:
    """Inverse document frequency over the units at hand: "E118" or "Klarna" outweighs "order"."""
    counts: dict[str, int] = {}
    for unit in units:
        for word in words(unit.text) | words(unit.context):
            counts[word] = counts.get(word, 0) + 1
    total = len(units)
    return {word: math.log(1 + total / (1 + count)) for word, count in counts.items()}
