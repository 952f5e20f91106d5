"""Answers drafted by a language model from retrieved passages; an answer citing nothing retrieved is rejected."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from handlers.answering import citations_for, cited_numbers
from handlers.decisions import DecisionRecord
from handlers.llm import Deadline, LanguageModel, LLMError, Message
from handlers.models import Citation
from handlers.prompts import PromptTemplate
from knowledge.models import Freshness, SearchResult

log = logging.getLogger(__name__)
NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True)
class ModelAnswer:
    text: str | None  # None: the model found no answer in the passages, or its answer was rejected
    citations: tuple[Citation, ...]
    rejected: str | None = None  # why the draft was not used
    not_found: bool = False  # the model read the passages and found no answer in them


def _passages(results: list[SearchResult]) -> str:
    blocks = []
    for number, result in enumerate(results, start=1):
        where = " › ".join((result.title, *result.heading_path))
        stale = " (stale)" if result.freshness is Freshness.STALE else ""
        blocks.append(f"[{number}] {where}{stale}\n{result.text}")
    return "\n\n".join(blocks)


async def model_answer(
    model: LanguageModel,
    template: PromptTemplate,
    question: str,
    results: list[SearchResult],
    record: DecisionRecord,
    *,
    company: str,
    deadline: Deadline | None = None,
) -> ModelAnswer:
    """Ask the model; keep the answer only if it cites passages that were actually retrieved."""
    record.model, record.prompt_version = model.name, template.label
    prompt = template.render(company=company, passages=_passages(results), question=question)
    try:
        completion = await model.complete([Message("user", prompt)], max_tokens=400, deadline=deadline)
    except LLMError as exc:
        log.warning("language model failed: %s", exc)
        record.count_model_call("drafting", model=model.name, prompt_version=template.label, **exc.accounting())
        return ModelAnswer(None, (), rejected=f"model error: {exc}")
    record.count_model_call(
        "drafting",
        model=completion.model,
        prompt_version=template.label,
        outcome="ok",
        prompt_tokens=completion.usage.prompt_tokens,
        completion_tokens=completion.usage.completion_tokens,
        cost_usd=completion.cost_usd,
        finish_reason=completion.finish_reason,
        latency_ms=completion.latency_ms,
    )
    text = (completion.text or "").strip()
    if text.startswith(NOT_FOUND):
        return ModelAnswer(None, (), rejected="the model found no answer in the passages", not_found=True)
    if not text:
        calls = ", ".join(call.name for call in completion.tool_calls)
        return ModelAnswer(None, (), rejected=f"the model returned no text{' but called ' + calls if calls else ''}")
    cited = cited_numbers(text)
    valid = {number for number in cited if 1 <= number <= len(results)}
    if not valid or valid != cited:
        return ModelAnswer(
            None, (), rejected=f"the draft cites {sorted(cited) or 'nothing'} of {len(results)} passages"
        )
    used = [results[number - 1] for number in sorted(valid)]
    numbering = {old: new for new, old in enumerate(sorted(valid), start=1)}
    for old, new in numbering.items():
        text = text.replace(f"[{old}]", f"[#{new}]")
    return ModelAnswer(text.replace("[#", "["), citations_for(used))
