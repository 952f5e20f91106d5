"""The route part of a decision's explanation: how the offline router and the model voted, what the model called,
what the workflow proposed and where each of its inputs came from."""

from __future__ import annotations

import json
from typing import Any

from escalation.formatting import SOURCE_WORDS, describe_params
from handlers.decisions import DecisionRecord

# what each rule of `handlers.tool_routing.combined_route` did, for a person
_RULES = {
    "no_model_vote": "the model made no usable pick, so the offline route stands",
    "agreed": "both agree",
    "person_requested": "the customer asked for a person, so the bot hands off",
    "offline_kept": "kept the offline route",
    "model_supported": "took the model's pick at the offline router's probability for it",
    "offline_unsure": "the offline router was under its threshold; took the model's pick at its probability for it",
}


def route_lines(record: DecisionRecord) -> list[str]:
    """The route heading (without its step number) and, when the model voted, how the two votes combined."""
    label = record.route or "out of scope"
    # runners-up are the offline ranking minus the chosen label, so the offline pick stays in view when the
    # route is the model's
    others = ", ".join(f"{ranked} {score:.2f}" for ranked, score in record.route_ranked if ranked != record.route)
    heading = f"Route: {label} (confidence {record.route_confidence or 0:.2f}" + (
        f"; offline runners-up: {others})" if others else ")"
    )
    votes = record.route_votes
    if not votes:
        return [heading]
    return [heading, f"   {_votes(votes)}"]


def _votes(votes: dict[str, Any]) -> str:
    offline_label, offline_confidence = (votes.get("offline") or [None, 0.0])[:2]
    offline = f"offline router {offline_label or 'out of scope'} {float(offline_confidence or 0):.2f}"
    model = votes.get("model")
    rule = str(votes.get("rule"))
    said = f"{offline}, model {model or '(no pick)'}; {_RULES.get(rule, rule)}"
    probability = votes.get("model_probability")
    if rule == "offline_kept" and probability is not None:
        said += f" (the model's pick had {probability:.2f}, under the {votes.get('support_floor', 0):.2f} floor)"
    elif rule in {"model_supported", "offline_unsure"} and probability is not None:
        said += f" ({probability:.2f})"
    return said


def tool_call_lines(record: DecisionRecord) -> list[str]:
    """One line per tool call: what the model called (its raw arguments), or what the workflow proposed."""
    lines = []
    for call in record.tool_calls:
        if call.get("source") == "model":
            lines.append(f"Model called {call.get('tool')}({_arguments(call.get('arguments'))})")
            continue
        action, workflow, params = call.get("action"), call.get("workflow"), call.get("params")
        line = f"Proposed {action} for workflow {workflow}: {describe_params(params)}"
        sources = call.get("sources")
        if sources:
            line += "\n   where the inputs came from: " + _sources(sources)
        lines.append(line)
    return lines


def input_lines(record: DecisionRecord) -> list[str]:
    """Where the inputs gathered so far came from, for a turn that asked rather than proposed."""
    if not record.input_sources or any(call.get("sources") for call in record.tool_calls):
        return []
    return [f"Inputs so far: {_sources(record.input_sources)}"]


def _sources(sources: dict[str, str]) -> str:
    return ", ".join(f"{name} {SOURCE_WORDS.get(source, source)}" for name, source in sources.items())


def _arguments(raw: Any) -> str:
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return repr(raw)
    if isinstance(parsed, dict):
        return ", ".join(f"{key}={value!r}" for key, value in parsed.items())
    return repr(raw)
