"""The model part of a decision's explanation: each model call of a turn, who wrote the reply, and the drafts not used.

A turn can call a model to route and again to draft, and still answer offline when the draft fails a check:
one line per call keeps each step's model, prompt, tokens and cost apart, and the answerer is named on its own.
"""

from __future__ import annotations

from typing import Any

from handlers.decisions import DecisionRecord
from handlers.knowledge_turns import OFFLINE_ANSWERER

_EXCERPT = 300  # characters of a rejected draft shown; the record keeps more


def model_steps(record: DecisionRecord) -> list[list[str]]:
    """The explanation's model steps, each a heading line and its indented detail lines."""
    steps: list[list[str]] = []
    if record.model_calls:
        steps.append(
            ["Model calls:", *(f"   - {_call(call, record)}" for call in record.model_calls), f"   {_total(record)}"]
        )
    elif record.prompt_tokens or record.completion_tokens:  # a record from before calls were kept one by one
        steps.append([f"Model: {record.model}, prompt {record.prompt_version or '—'}; {_total(record)}"])
    answer = _answerer(record)
    if answer:
        steps.append([f"Answer: {answer}"])
    if record.rejected_drafts:
        steps.append(
            [f"Drafts not used ({len(record.rejected_drafts)}):", *(_rejected(d) for d in record.rejected_drafts)]
        )
    return steps


def _usd(amount: float) -> str:
    return f"${amount:.6f}"


def _call(call: dict[str, Any], record: DecisionRecord) -> str:
    outcome = str(call.get("outcome") or "?")
    detail = call.get("detail")
    if detail and not (outcome == "rejected" and record.rejected_drafts):  # a rejection's reason is shown below
        outcome += f" ({str(detail)[:200]})"
    parts = [
        f"tokens {call.get('prompt_tokens', 0)} in / {call.get('completion_tokens', 0)} out",
        "price unknown" if call.get("cost_usd", 0.0) is None else _usd(call.get("cost_usd") or 0.0),
    ]
    if call.get("finish_reason"):
        parts.append(f"finish {call['finish_reason']}")
    if call.get("latency_ms") is not None:
        parts.append(f"{call['latency_ms']:.0f} ms")
    return (
        f"{call.get('step', '?')}: {call.get('model', '?')}, prompt {call.get('prompt_version') or '—'} — "
        f"{outcome}; {'; '.join(parts)}"
    )


def _total(record: DecisionRecord) -> str:
    tokens = f"tokens {record.prompt_tokens} in / {record.completion_tokens} out"
    if not record.cost_unknown:
        return f"Total: {tokens}, cost {_usd(record.cost_usd)}"
    unpriced = sorted({str(c.get("model")) for c in record.model_calls if c.get("cost_usd", 0.0) is None})
    counted = f"; {_usd(record.cost_usd)} counted for the priced calls" if record.cost_usd else ""
    return f"Total: {tokens}, cost unknown (no price for {', '.join(unpriced) or 'a model'}{counted})"


def _answerer(record: DecisionRecord) -> str | None:
    drafting = [call for call in record.model_calls if call.get("step") == "drafting"]
    if record.outcome == "answered" and record.model == OFFLINE_ANSWERER[0]:
        why = f"; the model's draft was not used ({drafting[-1].get('outcome')})" if drafting else ""
        cited = _passages_cited(record) or "(not recorded)"
        return f"quoted offline from passages {cited} ({record.model}, {record.prompt_version}){why}"
    if record.outcome == "answered" and record.model:
        cited = _passages_cited(record)
        return f"drafted by {record.model} ({record.prompt_version})" + (f", citing passages {cited}" if cited else "")
    if drafting and drafting[-1].get("outcome") == "not_found":
        return f"none — {record.model} ({record.prompt_version}) found no answer in the passages"
    return None


def _passages_cited(record: DecisionRecord) -> str:
    """The retrieved passages the reply cites, numbered as in the retrieval list above."""
    marked = sorted((p["cited"], number) for number, p in enumerate(record.retrieved, start=1) if p.get("cited"))
    if marked:  # the core marks the cited chunks: two passages can share a title and heading
        return "".join(f"[{number}]" for _, number in marked)
    numbered = {
        (passage.get("title"), tuple(passage.get("heading_path", []))): number
        for number, passage in enumerate(record.retrieved, start=1)
    }
    replies = [entry["item"] for entry in record.outbound or [] if entry.get("kind") == "reply"]
    citations = replies[0].get("citations", []) if replies else []
    numbers = [numbered.get((c.get("title"), tuple(c.get("heading_path", [])))) for c in citations]
    return "".join(f"[{number}]" for number in numbers if number is not None)


def _rejected(draft: dict[str, Any]) -> str:
    text = " ".join(str(draft.get("text") or "").split())
    excerpt = text[:_EXCERPT].rstrip() + ("…" if len(text) > _EXCERPT else "")
    finish = f" (finish {draft['finish_reason']})" if draft.get("finish_reason") else ""
    return f"   - {draft.get('reason', '?')}{finish}: {excerpt!r}"
