"""Follow-up questions read with the thread: "And for the EU plug?" after a question about a plug's maximum load is
searched as that question about the EU plug. Offline: the earlier question's key words are added to the search;
with a model: a rewrite step, whose answer is kept only if it looks like a search query."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from handlers.decisions import DecisionRecord
from handlers.llm import Deadline, LanguageModel, LLMError, Message
from handlers.prompts import PromptTemplate
from handlers.question_terms import words

log = logging.getLogger(__name__)

# "And for the EU plug?", "What about Klarna?", "Same for the UK?"
_CONNECTIVE = re.compile(r"^\W*(and|also|or|but|plus|what about|how about|same for|what if)\b", re.IGNORECASE)
_BACK_REFERENCE = re.compile(r"\b(it|its|that|this|those|them|they|one|ones|there|same)\b", re.IGNORECASE)
SHORT = 3  # content words: a message this short that points back ("How long does it take?") leans on the thread
LOOK_BACK = 3  # earlier customer messages a chain of follow-ups may reach back over
MAX_QUERY_CHARS = 300
MAX_CONTEXT_CHARS = 500  # of the earlier messages: their end is what a follow-up continues


def leans_on_earlier(text: str) -> bool:
    """Does this message only make sense with the one before it?"""
    if _CONNECTIVE.match(text):
        return True
    return bool(_BACK_REFERENCE.search(text)) and len(words(text)) <= SHORT


@dataclass(frozen=True)
class SearchQuery:
    text: str  # what is searched
    context: str | None = None  # the earlier question(s) the message leans on
    how: str = "as written"  # how the query was made, for the decision record


def earlier_question(earlier: Sequence[str]) -> str | None:
    """The thread a follow-up leans on: the last customer message that stands on its own, with any follow-ups
    after it ("Shipping to Canada?" / "And express?" / "How long does it take?"). `earlier`: oldest first."""
    chain: list[str] = []
    for text in reversed(earlier[-LOOK_BACK:]):
        chain.insert(0, text)
        if not leans_on_earlier(text):
            break
    return " ".join(chain)[-MAX_CONTEXT_CHARS:] if chain else None


def offline_query(text: str, earlier: Sequence[str]) -> SearchQuery:
    """The earlier question and the message together, when the message leans on it: the search then finds
    what the thread is about, and the answerer still weighs the message's own words most."""
    context = earlier_question(earlier) if leans_on_earlier(text) else None
    if not context:
        return SearchQuery(text)
    if not words(text) - words(context) and not words(context) - words(text):
        return SearchQuery(text, context, "as written (the earlier question adds no new words)")
    return SearchQuery(f"{context} {text}", context, "with the earlier question")


async def rewritten_query(
    model: LanguageModel,
    template: PromptTemplate,
    text: str,
    earlier: Sequence[str],
    record: DecisionRecord,
    *,
    deadline: Deadline | None = None,
) -> SearchQuery:
    """With a model: ask for a standalone question, and keep it only if it is one line of plain text that is
    not longer than the thread it came from; otherwise (or on any failure) the offline query."""
    offline = offline_query(text, earlier)
    if offline.context is None:
        return offline
    prompt = template.render(earlier=offline.context, message=text)
    try:
        completion = await model.complete([Message("user", prompt)], max_tokens=60, deadline=deadline)
    except LLMError as exc:
        log.warning("query rewrite failed: %s", exc)
        record.count_model_call(
            "rewriting", model=model.name, prompt_version=template.label, outcome=exc.outcome.value, detail=str(exc)
        )
        return offline
    rewrite = " ".join((completion.text or "").split()).strip("\"'")
    problem = (
        "cut off (finish_reason=length)"
        if completion.finish_reason == "length"
        else _unusable(rewrite, limit=min(MAX_QUERY_CHARS, len(offline.context) + len(text) + 40))
    )
    record.count_model_call(
        "rewriting",
        model=completion.model,
        prompt_version=template.label,
        outcome="rejected" if problem else "ok",
        prompt_tokens=completion.usage.prompt_tokens,
        completion_tokens=completion.usage.completion_tokens,
        cost_usd=completion.cost_usd,
        finish_reason=completion.finish_reason,
        latency_ms=completion.latency_ms,
        detail=problem,
    )
    if problem:
        record.note(f"query rewrite not used ({problem}); searched with the earlier question's key words")
        return offline
    return SearchQuery(rewrite, offline.context, f"rewritten by {completion.model} ({template.label})")


def _unusable(rewrite: str, *, limit: int) -> str | None:
    if not rewrite:
        return "empty"
    if len(rewrite) > limit:
        return f"{len(rewrite)} characters, longer than the thread it rewrites"
    if not words(rewrite):
        return "no words to search for"
    return None
