"""With a language model: one tool per workflow; the model's arguments are validated, never trusted."""

from __future__ import annotations

import json
import logging
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
# The model's pick carries no calibrated probability: when the offline router disagrees the
# choice gets this confidence, which is below the thresholds of the riskier workflows.
DISAGREEMENT_CONFIDENCE = 0.65


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
            model.__pydantic_validator__.validate_assignment(model.model_construct(), name, value)
        except ValidationError as exc:
            dropped.append(f"{name}: {exc.errors()[0]['msg']}")
            continue
        kept[name] = value
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
    record.model = model.name
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


def combined_route(choice: ToolChoice, offline: Route) -> Route:
    """The model's pick, with the offline router's probability when both agree."""
    if choice.workflow is None:
        return offline
    if choice.workflow == offline.label:
        return offline
    return Route(choice.workflow, DISAGREEMENT_CONFIDENCE, offline.ranked)
