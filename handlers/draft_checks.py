"""Is a model's draft an answer? Checks that run before a draft may reach a customer.

A weak model may echo its prompt (the passages come back with their valid [n] markers, so citing is no
proof of an answer), stop at its token limit mid-word, ramble past what a chat message should hold, or
miscopy a number. Each check gives a reason a person can read; any reason rejects the draft.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from handlers.answering import cited_numbers
from handlers.draft_claims import claimed_actions
from handlers.draft_facts import unsupported_facts
from handlers.prompts import PromptTemplate

# The prompt asks for under 120 words (~800 characters); this leaves room for a model that runs a little
# long while staying far below Slack's 3,000-character section and Teams' card limits.
MAX_DRAFT_CHARS = 1500
# finish reasons of a reply that did not end on its own
CUT_OFF = frozenset({"length", "content_filter"})
# Eight words in a row copied from the instructions make 4 shared 5-word runs; an answer in its own
# words shares none, an echo of the prompt shares dozens.
ECHO_RUN = 5
ECHO_MIN_SHARED = 4
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_LABEL = re.compile(r"[A-Za-z][A-Za-z ]{0,30}:")  # a template line such as "Passages:" or "Customer question:"


@dataclass(frozen=True)
class Instructions:
    """The fixed text of a prompt template: what a draft must not give back."""

    runs: frozenset[tuple[str, ...]]
    labels: frozenset[str]

    @classmethod
    def of(cls, template: PromptTemplate, **fixed: str) -> Instructions:
        """The template's literal text with `fixed` values filled in; other placeholders (the passages, the
        question: data, not instructions) are left out."""
        segments, current = [], ""
        for literal, field, _, _ in string.Formatter().parse(template.text):
            current += literal
            if field in fixed:
                current += fixed[field]
            elif field is not None:  # a run of words never spans a left-out placeholder
                segments.append(current)
                current = ""
        segments.append(current)
        runs = {run for segment in segments for run in word_runs(segment)}
        labels = {
            line.strip().lower()
            for segment in segments
            for line in segment.splitlines()
            if _LABEL.fullmatch(line.strip())
        }
        return cls(frozenset(runs), frozenset(labels))


def word_runs(text: str, size: int = ECHO_RUN) -> list[tuple[str, ...]]:
    """Every run of `size` consecutive words, in the order of the text."""
    words = _WORD.findall(text.lower())
    return [tuple(words[i : i + size]) for i in range(len(words) - size + 1)]


def echoed(draft: str, instructions: Instructions, *, data: list[str]) -> str | None:
    """Why the draft reads as the prompt given back, or None. Runs that the passages or the question also
    contain (`data`) do not count: quoting a passage is what an answer should do."""
    allowed = {run for text in data for run in word_runs(text)}
    shared = [run for run in dict.fromkeys(word_runs(draft)) if run in instructions.runs and run not in allowed]
    labels = [line.strip() for line in draft.splitlines() if line.strip().lower() in instructions.labels]
    if len(shared) < ECHO_MIN_SHARED and not labels:
        return None
    examples = ", ".join(repr(" ".join(run)) for run in shared[:2])
    headings = f"; the template's headings {', '.join(map(repr, dict.fromkeys(labels)))}" if labels else ""
    return f"the draft repeats the prompt's instructions ({len(shared)} phrases such as {examples}{headings})"


@dataclass(frozen=True)
class Review:
    reasons: tuple[str, ...]  # empty: the draft may be used
    cited: tuple[int, ...]  # the passage numbers it cites, all of them retrieved when `reasons` is empty

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def review(
    draft: str, *, finish_reason: str | None, instructions: Instructions, passages: list[str], question: str
) -> Review:
    """Every check, so that the record says all that was wrong, not only the first thing.

    `passages` are the retrieved passages' texts (title and headings included), numbered from 1."""
    reasons: list[str] = []
    if finish_reason in CUT_OFF:
        reasons.append(f"the draft was cut off (finish_reason={finish_reason})")
    if len(draft) > MAX_DRAFT_CHARS:
        reasons.append(f"the draft is {len(draft):,} characters, over the {MAX_DRAFT_CHARS:,}-character limit")
    echo = echoed(draft, instructions, data=[*passages, question])
    if echo:
        reasons.append(echo)
    cited = cited_numbers(draft)
    valid = {number for number in cited if 1 <= number <= len(passages)}
    if not valid or valid != cited:
        reasons.append(f"the draft cites {sorted(cited) or 'nothing'} of {len(passages)} passages")
    elif unsupported := unsupported_facts(draft, *(passages[number - 1] for number in valid), question):
        reasons.append(
            "the draft states what its cited passages and the question do not: " + ", ".join(unsupported[:10])
        )
    if claims := claimed_actions(draft, passages=passages):
        reasons.append(
            "the draft says an action was done, which an answer never does: " + "; ".join(map(repr, claims[:3]))
        )
    return Review(tuple(reasons), tuple(sorted(valid)))
