"""Answers from knowledge: retrieval, a confidence score, and a grounded reply that cites its passages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.models import Citation
from knowledge.chunking import split_sentences
from knowledge.models import Freshness, SearchResult

# all-MiniLM-L6-v2 cosine of the best passage: unrelated questions sit near 0.1-0.25 on the
# sample base, answerable ones at 0.45-0.8. Confidence maps that range onto 0-1.
_DENSE_FLOOR, _DENSE_SPAN = 0.25, 0.35
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_STOP = frozenset(
    (  # noqa: SIM905 - a word list reads best as words
        "a an the and or but if of to in on for with at by from is are was were be been do does did how what when "
        "where why who which can could would should i me my we our you your it its this that these those there have "
        "has had not no yes please get got will"
    ).split()
)


def confidence_of(results: list[SearchResult]) -> float:
    """How sure we are the best passage answers the question; stale passages count for less."""
    if not results:
        return 0.0
    best = results[0]
    score = max(0.0, min(1.0, (best.scores.get("dense", 0.0) - _DENSE_FLOOR) / _DENSE_SPAN))
    return round(score * (0.85 if best.freshness is Freshness.STALE else 1.0), 3)


def citations_for(results: list[SearchResult]) -> tuple[Citation, ...]:
    return tuple(
        Citation(
            number=number,
            title=result.title,
            heading_path=result.heading_path,
            url=result.source_url,
            updated_at=result.updated_at,
            review_by=result.review_by,
            stale=result.freshness is Freshness.STALE,
        )
        for number, result in enumerate(results, start=1)
    )


def _terms(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if word not in _STOP}


def best_sentences(question: str, passage: str, *, limit: int = 3) -> list[str]:
    """The passage's sentences that share most terms with the question, kept in their original order."""
    wanted = _terms(question)
    sentences = [s for s in split_sentences(" ".join(passage.split())) if s]
    scored = [(len(wanted & _terms(sentence)), index) for index, sentence in enumerate(sentences)]
    chosen = sorted(index for _, index in sorted(scored, key=lambda pair: (-pair[0], pair[1]))[:limit])
    return [sentences[index] for index in chosen]


@dataclass(frozen=True)
class Draft:
    text: str
    citations: tuple[Citation, ...]
    confidence: float


def grounded_answer(question: str, results: list[SearchResult], *, max_passages: int = 2) -> Draft:
    """Offline answerer: quotes the best passages, each with its numbered citation. Invents nothing."""
    used = results[:max_passages]
    citations = citations_for(used)
    lines = ["Here is what our help centre says:"]
    for citation, result in zip(citations, used, strict=True):
        quote = " ".join(best_sentences(question, result.text))
        warning = " (this article is past its review date and may be out of date)" if citation.stale else ""
        lines.append(f"> {quote} [{citation.number}]{warning}")
    if used and used[0].freshness is Freshness.STALE:
        lines.append("The best match is due for review, so please double-check it or ask for a person.")
    return Draft("\n".join(lines), citations, confidence_of(results))


def cited_numbers(text: str) -> set[int]:
    return {int(number) for number in re.findall(r"\[(\d{1,2})\]", text)}
