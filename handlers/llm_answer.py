"""Answers drafted by a language model from retrieved passages; a draft that fails a check is kept, not sent."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from handlers.answering import citations_for
from handlers.decisions import DecisionRecord
from handlers.draft_checks import Instructions, review
from handlers.llm import Completion, Deadline, LanguageModel, LLMError, Message
from handlers.models import Citation
from handlers.prompts import PromptTemplate
from knowledge.models import Freshness, SearchResult, chunk_context

log = logging.getLogger(__name__)
NOT_FOUND = "NOT_FOUND"
# enough of a rejected draft to see what went wrong (an echoed prompt is ~3 KB with its passages)
KEPT_DRAFT_CHARS = 4000


@dataclass(frozen=True)
class ModelAnswer:
    text: str | None  # None: the model found no answer in the passages, or its answer was rejected
    citations: tuple[Citation, ...]
    rejected: str | None = None  # why the draft was not used
    not_found: bool = False  # the model read the passages and found no answer in them


def numbered_passages(results: list[SearchResult]) -> str:
    """The passages as the prompt shows them: "[n] Title › Heading (stale)" over each passage's text."""
    blocks = []
    for number, result in enumerate(results, start=1):
        stale = " (stale)" if result.freshness is Freshness.STALE else ""
        blocks.append(f"[{number}] {chunk_context(result.title, result.heading_path)}{stale}\n{result.text}")
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
    """Ask the model; keep the answer only if it passes every draft check. Each call is counted on
    `record.model_calls`, each unused draft kept on `record.rejected_drafts` with the reason."""
    prompt = template.render(company=company, passages=numbered_passages(results), question=question)
    try:
        completion = await model.complete([Message("user", prompt)], max_tokens=400, deadline=deadline)
    except LLMError as exc:
        log.warning("language model failed: %s", exc)
        record.count_model_call("drafting", model=model.name, prompt_version=template.label, **exc.accounting())
        return ModelAnswer(None, (), rejected=f"model error: {exc}")
    text = (completion.text or "").strip()
    if text.startswith(NOT_FOUND):
        reason = "the model found no answer in the passages"
        _count(record, completion, template, outcome="not_found", detail=reason)
        _keep(record, completion, text, reason)
        return ModelAnswer(None, (), rejected=reason, not_found=True)
    if not text:
        calls = ", ".join(call.name for call in completion.tool_calls)
        reason = f"the model returned no text{' but called ' + calls if calls else ''}"
        _count(record, completion, template, outcome="rejected", detail=reason)
        _keep(record, completion, text, reason)
        return ModelAnswer(None, (), rejected=reason)
    verdict = review(
        text,
        finish_reason=completion.finish_reason,
        instructions=Instructions.of(template, company=company),
        passages=[f"{chunk_context(r.title, r.heading_path)}\n{r.text}" for r in results],
        question=question,
    )
    if not verdict.ok:
        log.info("model draft rejected: %s", verdict.reason)
        _count(record, completion, template, outcome="rejected", detail=verdict.reason)
        _keep(record, completion, text, verdict.reason)
        return ModelAnswer(None, (), rejected=verdict.reason)
    _count(record, completion, template, outcome="ok")
    # the reply cites only what it uses, renumbered 1..n in the order of retrieval
    numbering = {old: new for new, old in enumerate(verdict.cited, start=1)}
    for old, new in numbering.items():
        text = text.replace(f"[{old}]", f"[#{new}]")
    return ModelAnswer(text.replace("[#", "["), citations_for([results[number - 1] for number in verdict.cited]))


def _count(
    record: DecisionRecord, completion: Completion, template: PromptTemplate, *, outcome: str, detail: str | None = None
) -> None:
    record.count_model_call(
        "drafting",
        model=completion.model,
        prompt_version=template.label,
        outcome=outcome,
        prompt_tokens=completion.usage.prompt_tokens,
        completion_tokens=completion.usage.completion_tokens,
        cost_usd=completion.cost_usd,
        finish_reason=completion.finish_reason,
        latency_ms=completion.latency_ms,
        detail=detail,
    )


def _keep(record: DecisionRecord, completion: Completion, text: str, reason: str) -> None:
    record.rejected_drafts.append(
        {"text": text[:KEPT_DRAFT_CHARS], "reason": reason, "finish_reason": completion.finish_reason}
    )
