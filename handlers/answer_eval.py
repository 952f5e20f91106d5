"""Answer quality on a question set: does the answer say the key phrases (and not the wrong ones), do its
citations hold the supporting text, how long is it, and does it ever quote a table as a line of pipes."""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handlers.answering import cited_numbers
from handlers.models import CITATION_MARKER
from handlers.question_terms import question_terms
from knowledge.models import SearchResult

_FLAT_TABLE = re.compile(r"\|[^|\n]*\|[^|\n]*\||\|\s*:?-{3,}")
_EMPHASIS = re.compile(r"\*\*|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)|`")


@dataclass(frozen=True)
class AnswerQuestion:
    id: str
    question: str
    doc: str  # the expected document's id: its file name without the extension
    must: tuple[str, ...]
    must_not: tuple[str, ...] = ()
    kind: str = "other"
    after: str | None = None  # the question this one follows up, asked first in the same thread


def load_answer_questions(path: Path) -> list[AnswerQuestion]:
    """JSONL, one question a line: {"id", "question", "doc", "must": [...], "must_not": [...], "kind", "after"}."""
    questions: list[AnswerQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question = AnswerQuestion(
                id=_text(item, "id"),
                question=_text(item, "question"),
                doc=_text(item, "doc"),
                must=_phrases(item, "must", required=True),
                must_not=_phrases(item, "must_not", required=False),
                kind=str(item.get("kind") or "other"),
                after=item.get("after"),
            )
            if question.id in seen:
                raise ValueError(f"id {question.id!r} is used twice")
            if question.after is not None and question.after not in seen:
                raise ValueError(f"'after' names {question.after!r}, which is not an earlier question's id")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f'{path}:{number}: expected {{"id", "question", "doc", "must": [...]}} ({exc})') from None
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise ValueError(f"{path} holds no questions")
    return questions


def _text(item: dict[str, Any], key: str) -> str:
    value = item[key]
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{key} must be non-empty text")
    return value


def _phrases(item: dict[str, Any], key: str, *, required: bool) -> tuple[str, ...]:
    value = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(p, str) and p.strip() for p in value):
        raise TypeError(f"{key} must be a list of non-empty phrases")
    if required and not value:
        raise TypeError(f"{key} needs at least one phrase")
    return tuple(value)


def plain(text: str) -> str:
    """Lower case, Markdown emphasis and citation markers gone, spaces collapsed: what phrases are matched in."""
    return " ".join(_EMPHASIS.sub("", CITATION_MARKER.sub(" ", text)).lower().split())


def word_count(text: str) -> int:
    return len(CITATION_MARKER.sub(" ", text).split())


@dataclass(frozen=True)
class Judged:
    """One answer, judged."""

    id: str
    kind: str
    answer: str
    answered: bool  # False: the bot said it was not sure
    must_found: int
    must_total: int
    must_not_found: tuple[str, ...]
    cited: int
    supporting: int  # cited passages that hold one of the key phrases
    lead_doc: str | None
    lead_is_expected: bool
    flattened_table: bool
    lead_lacks_exact: bool  # led with a passage without the question's code or number while another had it
    words: int
    source: str = "offline"  # offline, or the model that drafted the answer
    missing: tuple[str, ...] = field(default=())


def judge(
    question: AnswerQuestion,
    answer: str,
    sources: tuple[SearchResult, ...],
    results: list[SearchResult],
    *,
    source: str = "offline",
) -> Judged:
    """`sources`: the passage behind each citation ([1] first); `results`: every passage the answerer read."""
    said = plain(answer)
    missing = tuple(phrase for phrase in question.must if plain(phrase) not in said)
    passages = [passage for number, passage in enumerate(sources, start=1) if number in cited_numbers(answer)]
    supporting = sum(
        1
        for passage in passages
        if any(
            plain(phrase) in plain(f"{passage.title} {' '.join(passage.heading_path)} {passage.text}")
            for phrase in question.must
        )
    )
    lead = passages[0] if passages else None
    exact = question_terms(question.question).exact
    lead_lacks = bool(
        exact
        and lead is not None
        and not any(term in lead.text.lower() for term in exact)
        and any(any(term in r.text.lower() for term in exact) for r in results)
    )
    return Judged(
        id=question.id,
        kind=question.kind,
        answer=answer,
        answered=bool(sources),
        must_found=len(question.must) - len(missing),
        must_total=len(question.must),
        must_not_found=tuple(phrase for phrase in question.must_not if plain(phrase) in said),
        cited=len(passages),
        supporting=supporting,
        lead_doc=lead.doc_key.rsplit("/", 1)[-1] if lead is not None else None,
        lead_is_expected=lead is not None and lead.doc_key.rsplit("/", 1)[-1] == question.doc,
        flattened_table=bool(_FLAT_TABLE.search(answer)),
        lead_lacks_exact=lead_lacks,
        words=word_count(answer),
        source=source,
        missing=missing,
    )


def summarise(judged: list[Judged]) -> dict[str, Any]:
    """The figures the aims are stated in, over every question, and the hit rate per kind of question."""
    found, total = sum(j.must_found for j in judged), sum(j.must_total for j in judged)
    cited, supporting = sum(j.cited for j in judged), sum(j.supporting for j in judged)
    lengths = [j.words for j in judged if j.answered] or [0]
    kinds = sorted({j.kind for j in judged})
    return {
        "questions": len(judged),
        "answered": sum(j.answered for j in judged),
        "key_phrase_hit_rate": round(found / total, 4) if total else 0.0,
        "fully_answered": round(
            sum(j.must_found == j.must_total and not j.must_not_found for j in judged) / len(judged), 4
        ),
        "must_not_violations": sum(bool(j.must_not_found) for j in judged),
        "citation_precision": round(supporting / cited, 4) if cited else 0.0,
        "lead_document_accuracy": round(sum(j.lead_is_expected for j in judged) / len(judged), 4),
        "median_words": statistics.median(lengths),
        "p90_words": sorted(lengths)[min(len(lengths) - 1, int(0.9 * len(lengths)))],
        "flattened_tables": sum(j.flattened_table for j in judged),
        "led_without_the_code": sum(j.lead_lacks_exact for j in judged),
        "hit_rate_by_kind": {
            kind: round(
                sum(j.must_found for j in judged if j.kind == kind)
                / max(1, sum(j.must_total for j in judged if j.kind == kind)),
                4,
            )
            for kind in kinds
        },
    }
