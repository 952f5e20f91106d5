"""What a deployment sets for the conversation core (bot/core_factory.py builds it from settings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CoreConfig:
    answer_workflow: str = "answer"
    human_workflow: str = "talk_to_human"
    out_of_scope_workflow: str = "out_of_scope"
    passages: int = 4
    company: str = "Acme Gadgets"
    # every model call of one turn, retries included, ends by then; well inside a platform's turn time-out
    model_deadline_s: float = 25.0
    # LLM_REDACT_PII: personal data is taken out of what the model reads to draft an answer or a search query
    # (never out of what routing and workflows read: a change of e-mail needs the address)
    redact_for_model: bool = False


DEFAULT_CONFIG = CoreConfig()
