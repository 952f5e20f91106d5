"""How amounts and action inputs read to people, the same in replies, cards, the audit trail and notices."""

from __future__ import annotations

from typing import Any

from escalation.models import Approval

AMOUNT = "amount_cents"


def money(cents: Any) -> str:
    """`4000` → `$40.00`; anything that is not a whole number of cents is shown as it is."""
    return f"${int(cents) / 100:,.2f}" if isinstance(cents, int) and not isinstance(cents, bool) else str(cents)


def value(key: str, raw: Any) -> str:
    return money(raw) if key == AMOUNT else str(raw)


def describe_params(params: dict[str, Any] | None) -> str:
    return ", ".join(f"{key}={value(key, raw)}" for key, raw in (params or {}).items())


# where an action input came from, as approvers read it (keys as in `ProposedAction.input_sources`)
SOURCE_WORDS = {
    "customer": "from the customer's message",
    "model": "filled in by the model — check it",
    "lookup": "looked up",
    "approver": "changed by the approver",
}


def input_facts(params: dict[str, Any] | None, sources: dict[str, str] | None) -> list[tuple[str, str]]:
    """(input, `$40.00 (from the customer's message)`) per input; no note where nobody said."""
    facts = []
    for key, raw in (params or {}).items():
        source = (sources or {}).get(key)
        note = f" ({SOURCE_WORDS.get(source, source)})" if source else ""
        facts.append((key, f"{value(key, raw)}{note}"))
    return facts


def approval_input_facts(approval: Approval) -> list[tuple[str, str]]:
    """The approval's inputs with their sources; an amount the approver changed says so."""
    sources = dict(approval.input_sources)
    for key, raw in approval.params.items():
        if approval.edited and approval.proposed_params.get(key) != raw:
            sources[key] = "approver"
    return input_facts(approval.params, sources)
