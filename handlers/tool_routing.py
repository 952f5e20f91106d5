"""With a language model: one tool per workflow; the model's arguments are validated, never trusted."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from handlers.decisions import DecisionRecord
from handlers.llm import Deadline, LanguageModel, LLMError, Message, ToolSpec
from handlers.ports import Route
from handlers.prompts import PromptTemplate
from handlers.workflows import INPUT_MODELS

log = logging.getLogger(__name__)

ANSWER_TOOL = "answer_question"
HUMAN_TOOL = "talk_to_human"
# The offline router's probability a model's pick needs to count as "also supported" (see `combined_route`).
# It is low on purpose: a supported pick is scored at that probability, which cannot clear any workflow's
# threshold while another label is on top, so support only lets the model steer away from acting.
SUPPORT_FLOOR = 0.1


@dataclass(frozen=True)
class ToolChoice:
    workflow: str | None  # None: let the offline router decide
    arguments: dict[str, Any] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)  # arguments that failed validation


def tool_specs(workflows: dict[str, str]) -> list[ToolSpec]:
    """`workflows` maps workflow name to its input model name."""
    specs = [
        ToolSpec(ANSWER_TOOL, "Answer a question from the help centre.", {"type": "object", "properties": {}}),
        ToolSpec(HUMAN_TOOL, "The customer wants a person.", {"type": "object", "properties": {}}),
    ]
    for workflow, model_name in sorted(workflows.items()):
        schema = INPUT_MODELS[model_name].model_json_schema()
        schema.pop("required", None)  # missing arguments are asked for, not invented
        specs.append(ToolSpec(workflow, f"Start the {workflow.replace('_', ' ')} workflow.", schema))
    return specs


def validated_arguments(model_name: str, raw: str) -> tuple[dict[str, Any], list[str]]:
    """Keep only the arguments the input model accepts one by one; report the rest."""
    try:
        given = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        return {}, ["arguments were not valid JSON"]
    if not isinstance(given, dict):
        return {}, ["arguments were not an object"]
    model = INPUT_MODELS[model_name]
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in given.items():
        if name not in model.model_fields:
            dropped.append(f"{name}: not an input of this workflow")
            continue
        try:
            checked = model.__pydantic_validator__.validate_assignment(model.model_construct(), name, value)
        except ValidationError as exc:
            dropped.append(f"{name}: {exc.errors()[0]['msg']}")
            continue
        kept[name] = getattr(checked, name)  # as the input model reads it: 4000.0 is 4000, spaces stripped
    return kept, dropped


async def choose(
    model: LanguageModel,
    template: PromptTemplate,
    text: str,
    *,
    history: list[tuple[str, str, str]],
    workflows: dict[str, str],
    record: DecisionRecord,
    company: str,
    deadline: Deadline | None = None,
) -> ToolChoice:
    prompt = template.render(
        company=company, history="\n".join(f"{role}: {said[:300]}" for role, _, said in history[-6:]) or "(none)"
    )
    try:
        completion = await model.complete(
            [Message("system", prompt), Message("user", text)],
            tools=tool_specs(workflows),
            max_tokens=200,
            deadline=deadline,
        )
    except LLMError as exc:
        record.count_model_call("routing", model=model.name, prompt_version=template.label, **exc.accounting())
        record.note(f"tool routing failed ({exc}); the offline router decides")
        return ToolChoice(None)
    record.count_model_call(
        "routing",
        model=completion.model,
        prompt_version=template.label,
        outcome="ok",
        prompt_tokens=completion.usage.prompt_tokens,
        completion_tokens=completion.usage.completion_tokens,
        cost_usd=completion.cost_usd,
        finish_reason=completion.finish_reason,
        latency_ms=completion.latency_ms,
    )
    # `record.model` names the answerer of the reply (set by the core); this call is on `record.model_calls`
    for call in completion.tool_calls:
        record.tool_calls.append({"tool": call.name, "arguments": call.arguments[:500], "source": "model"})
    if len(completion.tool_calls) != 1:
        record.note(f"the model made {len(completion.tool_calls)} tool calls; the offline router decides")
        return ToolChoice(None)
    call = completion.tool_calls[0]
    if call.name == ANSWER_TOOL:
        return ToolChoice("answer")
    if call.name == HUMAN_TOOL:
        return ToolChoice(HUMAN_TOOL)
    if call.name not in workflows:
        record.note(f"the model called an unknown tool {call.name!r}; ignored")
        return ToolChoice(None)
    kept, dropped = validated_arguments(workflows[call.name], call.arguments)
    if dropped:
        record.note(f"dropped invalid arguments from the model: {'; '.join(dropped)}")
    return ToolChoice(call.name, kept, dropped)


@dataclass(frozen=True)
class RouteDecision:
    route: Route
    rule: str  # which rule of `combined_route` decided
    votes: dict[str, Any]  # for the decision record: both picks, the rule, whether they agreed


def combined_route(
    choice: ToolChoice, offline: Route, *, threshold: Callable[[str], float | None], human: str = HUMAN_TOOL
) -> RouteDecision:
    """The offline router is a floor; the model's pick never clears a threshold on its own word.

    `threshold(label)` is the workflow's confidence threshold in the policy (None if it has none).
    Let p(label) be the offline router's probability for a label (0 when it is not in its ranking).
    The first rule that applies decides:

    1. no_model_vote: the model made no usable pick → the offline route.
    2. agreed: both picked the same label → the offline route and its probability.
    3. person_requested: the model called the human tool, or the offline router picked it at or over its
       threshold → the human workflow (handing off is the safe direction), at p(human).
    4. offline_kept: the offline label clears its threshold and the model's label is not supported, that is
       p(model's label) < SUPPORT_FLOOR → the offline route.
    5. model_supported (offline confident, model supported) or offline_unsure (offline under its threshold)
       → the model's label at p(model's label). Its confidence is the offline evidence for it, so a risky
       workflow starts only when the offline router backs it; otherwise the core answers from knowledge.
    """
    probability = dict(offline.ranked)
    picked = choice.workflow
    supported = probability.get(picked, 0.0) if picked is not None else None
    votes: dict[str, Any] = {
        "offline": [offline.label, round(offline.confidence, 4)],
        "model": picked,
        "agreed": picked is not None and picked == offline.label,
        "model_probability": None if supported is None else round(supported, 4),
        "support_floor": SUPPORT_FLOOR,
    }

    def decided(rule: str, route: Route) -> RouteDecision:
        return RouteDecision(route, rule, {**votes, "rule": rule})

    if picked is None:
        return decided("no_model_vote", offline)
    if picked == offline.label:
        return decided("agreed", offline)
    offline_threshold = threshold(offline.label) if offline.label is not None else None
    offline_confident = offline_threshold is not None and offline.confidence >= offline_threshold
    if picked == human or (offline.label == human and offline_confident):
        return decided("person_requested", Route(human, probability.get(human, 0.0), offline.ranked))
    assert supported is not None
    if offline_confident and supported < SUPPORT_FLOOR:
        return decided("offline_kept", offline)
    rule = "model_supported" if offline_confident else "offline_unsure"
    return decided(rule, Route(picked, supported, offline.ranked))
