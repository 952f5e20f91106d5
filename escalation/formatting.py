"""How amounts and action inputs read to people, the same in replies, cards, the audit trail and notices."""

from __future__ import annotations

from typing import Any

AMOUNT = "amount_cents"


def money(cents: Any) -> str:
    """`4000` → `$40.00`; anything that is not a whole number of cents is shown as it is."""
    return f"${int(cents) / 100:,.2f}" if isinstance(cents, int) and not isinstance(cents, bool) else str(cents)


def value(key: str, raw: Any) -> str:
    return money(raw) if key == AMOUNT else str(raw)


def describe_params(params: dict[str, Any] | None) -> str:
    return ", ".join(f"{key}={value(key, raw)}" for key, raw in (params or {}).items())
