"""Answers from knowledge: a confidence score, and the offline answerer, which says the few lines of the retrieved
passages that answer the question (a table row with its header, a list item, a sentence or two), each with its
citation, then points to where there is more. It quotes; it never rewords or invents."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from handlers.models import CITATION_MARKER, AnswerPart, Citation, Fact
from handlers.question_terms import Part, Terms, codes_in, numbers_in, question_terms, words
from handlers.unit_scoring import Scored, UnitScorer
from knowledge.models import Freshness, SearchResult
from knowledge.search import top
from knowledge.units import Unit, UnitKind

# all-MiniLM-L6-v2 cosine of the best passage: unrelated questions sit near 0.1-0.25 on the
# sample base, answerable ones at 0.45-0.8. Confidence maps that range onto 0-1.
_DENSE_FLOOR, _DENSE_SPAN = 0.25, 0.35
ANSWER_WORDS = 45  # what the direct answer may grow to beyond its first unit; a customer reads a chat reply
STEPS_WORDS = 110  # a how-to's numbered steps are kept whole up to this
HOW_TO_REACH, HOW_TO_SHARE = 5, 0.85  # a step among the best five units, nearly as good as the best, leads
SECOND_UNIT = 0.9  # another unit joins the answer only when it scores nearly as well as the first
AMOUNT_UNIT = 0.75  # a unit stating the amount asked for ("60 minutes") leads if it scores this share of the best
AMOUNT_FOR_PART = 0.25  # a part asking "how long" is answered by a unit that says how long
PART_UNIT = 0.55  # ... or answers a part of the question the first does not, scoring at least this share
# The offline answerer reads more than a model is sent: the sentence that answers is often in another section
# of the best document than the one that scored best as a whole.
READ_PASSAGES, READ_PER_DOCUMENT = 12, 4
NAMING_PASSAGES = 3
SEARCH_DEPTH = 40  # every candidate the search ranks: the answerer and a model each take their share of it
POINTERS = 0  # other documents are pointed to only when quoted: one not quoted added nothing to this answer
FAR_BELOW = 0.6  # a passage whose search score is under this share of the first's adds nothing
STALE_NOTE = " (this article is past its review date and may be out of date)"
STALE_ADVICE = "The best match is due for review, so please double-check it or ask for a person."
_LEANS_BACK = re.compile(r"^(this|that|these|those|it|they|then|there|otherwise|if so|if not)\b", re.IGNORECASE)


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


def passages_to_read(found: list[SearchResult], sent: list[SearchResult], *, question: str) -> list[SearchResult]:
    """What the offline answerer reads: the best passages, up to four from one document; every section of the
    best document the search found (its steps may score below four other sections of it); every passage that
    names a code or number the question names (the table row for E103 may rank below four sections of its
    article); and every passage a model would be `sent`."""
    wide = top(found, limit=READ_PASSAGES, per_document=READ_PER_DOCUMENT)
    exact = question_terms(question).exact
    naming = [r for r in found if exact and exact & (codes_in(r.text) | numbers_in(r.text))][:NAMING_PASSAGES]
    best_article = [r for r in found if r.document_id == found[0].document_id] if found else []
    kept: dict[int, SearchResult] = {}
    for result in [*wide, *best_article, *naming, *sent]:
        kept.setdefault(result.chunk_id, result)
    return sorted(kept.values(), key=lambda r: (-r.score, r.chunk_id))


@dataclass(frozen=True)
class Draft:
    text: str
    citations: tuple[Citation, ...]
    confidence: float
    parts: tuple[AnswerPart, ...] = ()  # the same answer as structured pieces, for channels that can show them
    sources: tuple[SearchResult, ...] = ()  # the passage behind each citation, in citation order


async def grounded_answer(
    question: str,
    results: list[SearchResult],
    *,
    scorer: UnitScorer,
    context: str | None = None,
    query: str | None = None,
) -> Draft:
    """The offline answer to `question` from `results`. `context` is the earlier question a follow-up leans on,
    `query` what was searched (the question's vector is already cached under it)."""
    confidence = confidence_of(results)
    terms = question_terms(question, context=context)
    scored = await scorer.score(terms, query or question, results)
    if not scored:
        return Draft("", (), confidence)
    picked = _pick(terms, scored)
    return _compose(picked, results, terms, confidence)


def _pick(terms: Terms, scored: list[Scored]) -> list[Scored]:
    ranked = sorted(scored, key=lambda s: -s.score)
    # a passage that names the question's code or number leads whenever one does
    lead = next((s for s in ranked if s.exact), ranked[0]) if terms.exact else ranked[0]
    if terms.wants and not terms.amount_in(lead.unit.text):  # "how long": a unit that says how long, if close
        stating = next(
            (
                s
                for s in ranked
                if terms.amount_in(s.unit.text) and s.document == lead.document and s.exact == lead.exact
            ),
            None,
        )
        lead = stating if stating is not None and stating.score >= AMOUNT_UNIT * lead.score else lead
    if terms.how_to and not terms.parts:  # "how do I…": a numbered list near the top is the answer
        step = next((s for s in ranked[:HOW_TO_REACH] if s.unit.step is not None), None)
        if step is not None and step.score >= HOW_TO_SHARE * lead.score:
            return _steps(step, scored)
    if lead.unit.kind is UnitKind.SENTENCE and lead.unit.text.endswith(":") and not terms.parts:
        return [lead, *_list_after(lead, scored)]  # "a parcel is lost when any of these is true:" and its items
    picked = [lead]
    budget = ANSWER_WORDS
    for part in terms.parts:
        if _answers(terms, picked, part):
            continue
        candidates = [
            s
            for s in ranked
            if s not in picked
            and part.words & s.covered
            and (not part.wants or terms.amount_in(s.unit.text, part.wants))
        ]
        best = max(candidates, key=lambda s: _for_part(terms, s, part), default=None)
        if best is not None and _for_part(terms, best, part) >= PART_UNIT * _for_part(terms, lead, part):
            picked.append(best)
            budget -= _length(best)
    second = None if terms.parts else _second(terms, lead, [s for s in ranked if s not in picked])
    if second is not None and _length(second) <= budget:
        picked.append(second)
        budget -= _length(second)
    for chosen in list(picked):
        before = _previous_sentence(chosen, scored)
        if before is not None and before not in picked and _length(before) <= budget:
            picked.append(before)
            budget -= _length(before)
    return picked


def _second(terms: Terms, lead: Scored, rest: list[Scored]) -> Scored | None:
    """A second unit from the first one's article, when it says a word of the question the first (and the first's
    title and headings) leave out, with nearly as good a score. Another article's unit never joins this way: it
    is the second passage that adds nothing."""
    same = [s for s in rest if s.document == lead.document]
    best = same[0] if same else None
    if best is not None and best.score >= SECOND_UNIT * lead.score and best.covered - lead.covered - lead.placed:
        return best
    return None


def _answers(terms: Terms, picked: list[Scored], part: Part) -> bool:
    """A part is answered when a picked unit holds half its words or more, and states the amount it asks for."""
    return any(
        len(part.words & s.covered) * 2 >= len(part.words)
        and (not part.wants or terms.amount_in(s.unit.text, part.wants))
        for s in picked
    )


def _for_part(terms: Terms, scored: Scored, part: Part) -> float:
    """How well a unit answers one part: its score, the share of the part's words it holds, the amount asked."""
    amount = AMOUNT_FOR_PART if part.wants and terms.amount_in(scored.unit.text, part.wants) else 0.0
    return scored.score + len(part.words & scored.covered) / len(part.words) + amount


def _length(scored: Scored) -> int:
    return len(scored.unit.text.split())


def _previous_sentence(chosen: Scored, scored: list[Scored]) -> Scored | None:
    """A sentence starting "This…" or "Then…" is read with the one before it."""
    unit = chosen.unit
    if unit.kind is not UnitKind.SENTENCE or unit.position == 0 or not _LEANS_BACK.match(unit.text):
        return None
    return next(
        (
            s
            for s in scored
            if s.passage == chosen.passage and s.unit.group == unit.group and s.unit.position == unit.position - 1
        ),
        None,
    )


def _list_after(lead_in: Scored, scored: list[Scored]) -> list[Scored]:
    """The items of the list a lead-in sentence introduces, while they fit."""
    items = sorted(
        (
            s
            for s in scored
            if s.passage == lead_in.passage and s.unit.group == lead_in.unit.group + 1 and s.unit.kind is UnitKind.ITEM
        ),
        key=lambda s: s.unit.position,
    )
    kept: list[Scored] = []
    total = _length(lead_in)
    for item in items:
        total += _length(item)
        if total > STEPS_WORDS:
            break
        kept.append(item)
    return kept


def _steps(lead: Scored, scored: list[Scored]) -> list[Scored]:
    """A "how do I" question answered by a numbered list: its steps, in order, while they fit."""
    steps = sorted(
        (s for s in scored if s.passage == lead.passage and s.unit.group == lead.unit.group and s.unit.step),
        key=lambda s: s.unit.position,
    )
    kept: list[Scored] = []
    total = 0
    for step in steps:
        total += _length(step)
        if total > STEPS_WORDS and kept:
            break
        kept.append(step)
    return kept if lead in kept else [lead]


def _compose(picked: list[Scored], results: list[SearchResult], terms: Terms, confidence: float) -> Draft:
    lead_passage = picked[0].passage
    order = [lead_passage, *sorted({s.passage for s in picked} - {lead_passage})]
    number = {passage: position for position, passage in enumerate(order, start=1)}
    parts: list[AnswerPart] = []
    for passage in order:
        units = sorted((s.unit for s in picked if s.passage == passage), key=lambda u: (u.group, u.position))
        parts += _parts_of(units, source=number[passage])
    quoted = {results[index].document_id for index in order}
    others = [index for index in _worth_pointing_to(picked, results, terms) if results[index].document_id not in quoted]
    pointers = order + others[:POINTERS]
    for index in pointers:
        number.setdefault(index, len(number) + 1)
    markers = " and ".join(f"[{number[index]}]" for index in pointers)
    parts.append(AnswerPart(f"More in {markers}."))
    if results[lead_passage].freshness is Freshness.STALE:
        parts.append(AnswerPart(STALE_ADVICE))
    stale = {number[index] for index in order if results[index].freshness is Freshness.STALE}
    text = "\n\n".join(
        part.text + "".join(f" [{n}]" for n in part.sources) + (STALE_NOTE if stale & set(part.sources) else "")
        for part in parts
    )
    sources = tuple(results[index] for index in pointers)
    return Draft(text, citations_for(list(sources)), confidence, tuple(parts), sources)


def _parts_of(units: list[Unit], *, source: int) -> list[AnswerPart]:
    """Sentences of one paragraph read as one; a row becomes facts; a list stays a list, after its lead-in."""
    parts: list[AnswerPart] = []
    previous: Unit | None = None
    for unit in units:
        last = parts[-1] if parts else None
        joins = last is not None and previous is not None and not last.facts
        if unit.kind is UnitKind.ROW:
            facts = tuple(Fact(label, value) for label, value in unit.facts)
            parts.append(AnswerPart(unit.text, facts=facts, sources=(source,)))
        elif joins and last and previous and unit.kind is UnitKind.SENTENCE and previous.group == unit.group:
            parts[-1] = AnswerPart(f"{last.text} {unit.text}", sources=last.sources)
        elif joins and last and previous and unit.kind is UnitKind.ITEM and _same_list(previous, unit):
            parts[-1] = AnswerPart(f"{last.text}\n{_bullet(unit)}", sources=last.sources)
        elif unit.kind is UnitKind.ITEM and sum(other.group == unit.group for other in units) > 1:
            parts.append(AnswerPart(_bullet(unit), sources=(source,)))
        else:
            parts.append(AnswerPart(_with_lead_in(unit), sources=(source,)))
        previous = unit
    return parts


def _same_list(previous: Unit, unit: Unit) -> bool:
    """Is `unit` the next item of the list `previous` belongs to, or introduces?"""
    if previous.kind is UnitKind.ITEM:
        return previous.group == unit.group
    return previous.text.endswith(":") and previous.group + 1 == unit.group


def _bullet(unit: Unit) -> str:
    return f"{unit.step}. {unit.text}" if unit.step is not None else f"- {unit.text}"


def _with_lead_in(unit: Unit) -> str:
    """A list item that continues its lead-in ("the item must: be complete…") is read with it."""
    if unit.kind is UnitKind.ITEM and unit.context.endswith(":") and unit.text[:1].islower():
        return f"{_sentence_of(unit.context)} {unit.text}"
    return unit.text


def _sentence_of(context: str) -> str:
    """The lead-in sentence at the end of an item's context (which may start with a heading)."""
    colon_sentence = re.search(r"[^.!?]*:$", context)
    return colon_sentence.group(0).strip() if colon_sentence else context


def _worth_pointing_to(picked: list[Scored], results: list[SearchResult], terms: Terms) -> list[int]:
    """Passages not quoted that still say more about the question: close in score to the first, and holding
    every code, number and rare word of the question that the first holds. The rest add nothing."""
    lead = results[picked[0].passage]
    lead_words = words(f"{lead.title} {' '.join(lead.heading_path)} {lead.text}")
    key = {word for word in terms.weights if terms.weights[word] == 1.0 and word in lead_words}
    exact = {term for term in terms.exact if term in lead.text.lower()}
    kept = []
    for index, result in enumerate(results):
        if index in {s.passage for s in picked} or result.score < FAR_BELOW * lead.score:
            continue
        own = words(f"{result.title} {' '.join(result.heading_path)} {result.text}")
        if key <= own and all(term in result.text.lower() for term in exact):
            kept.append(index)
    return kept


def sources_of(citations: tuple[Citation, ...], results: list[SearchResult]) -> tuple[SearchResult, ...]:
    """The passages behind a model draft's citations (it was sent one passage per document, so a title and
    heading name one)."""
    by_place = {(result.title, result.heading_path): result for result in results}
    return tuple(by_place[(c.title, c.heading_path)] for c in citations if (c.title, c.heading_path) in by_place)


def mark_cited(retrieved: list[dict[str, Any]], sources: tuple[SearchResult, ...]) -> None:
    """Write each cited passage's citation number into the decision record's retrieval list: two passages can
    share a title and heading (a long table cut in two), so only the chunk says which one was cited."""
    number = {source.chunk_id: position for position, source in enumerate(sources, start=1)}
    for passage in retrieved:
        if passage.get("chunk_id") in number:
            passage["cited"] = number[passage["chunk_id"]]


def cited_numbers(text: str) -> set[int]:
    return {int(number) for number in CITATION_MARKER.findall(text)}
