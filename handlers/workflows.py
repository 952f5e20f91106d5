"""Typed inputs for the built-in workflows, and how they are read from plain messages offline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ORDER_ID = r"[A-Z]{1,3}-\d{4,10}"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
_ORDER = re.compile(rf"\b({ORDER_ID})\b", re.IGNORECASE)
EMAIL_ADDRESS = re.compile(EMAIL)
_NUMBER = r"(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d{1,7}(?:[.,]\d{1,2})?)"
_MONEY = re.compile(rf"(?:\$|usd\s*|€|£)\s*{_NUMBER}|{_NUMBER}\s*(?:dollars|usd|\$)", re.IGNORECASE)
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?")


def plain_number(number: str) -> str:
    """The number as `float()` reads it: "5,000" and "1,250.50" group thousands; "12,50" is a decimal comma."""
    return number.replace(",", "") if _THOUSANDS.fullmatch(number) else number.replace(",", ".")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrderStatusInput(_Input):
    order_id: str = Field(pattern=rf"^{ORDER_ID}$", description="The order number, e.g. A-10231")


class RefundInput(_Input):
    order_id: str = Field(pattern=rf"^{ORDER_ID}$", description="The order number, e.g. A-10231")
    amount_cents: int = Field(gt=0, le=10_000_000, description="How much to refund, in cents")
    reason: str = Field(min_length=3, max_length=500, description="Why the customer wants a refund")


class CancelOrderInput(_Input):
    order_id: str = Field(pattern=rf"^{ORDER_ID}$", description="The order number, e.g. A-10231")


class ChangeEmailInput(_Input):
    current_email: str = Field(pattern=rf"^{EMAIL}$", description="The email address on the account now")
    new_email: str = Field(pattern=rf"^{EMAIL}$", description="The email address to change it to")


INPUT_MODELS: dict[str, type[_Input]] = {
    "order_status": OrderStatusInput,
    "refund": RefundInput,
    "cancel_order": CancelOrderInput,
    "change_email": ChangeEmailInput,
}

QUESTIONS = {
    "order_id": "What is the order number? It looks like A-10231 and is in your confirmation email.",
    "amount_cents": "How much should be refunded (for example $25.00)?",
    "reason": "What went wrong with the order?",
    "current_email": "What is the email address on your account now?",
    "new_email": "Which email address should we change it to?",
}


def extract(text: str, *, wanted: list[str], asked_for: str | None = None) -> dict[str, Any]:
    """Pull the inputs a message plainly states. Never guesses: unknown stays missing."""
    found: dict[str, Any] = {}
    if "order_id" in wanted and (match := _ORDER.search(text)):
        found["order_id"] = match.group(1).upper()
    if "amount_cents" in wanted and (match := _MONEY.search(text)):
        number = match.group(1) or match.group(2)
        found["amount_cents"] = round(float(plain_number(number)) * 100)
    emails = EMAIL_ADDRESS.findall(text)
    if emails and {"current_email", "new_email"} & set(wanted):
        if len(emails) >= 2:
            found["current_email"], found["new_email"] = emails[0].lower(), emails[1].lower()
        elif asked_for in {"current_email", "new_email"}:
            found[asked_for] = emails[0].lower()
        elif "new_email" in wanted:
            found["new_email"] = emails[0].lower()
    if asked_for == "reason" and "reason" in wanted and len(text.strip()) >= 3:
        found["reason"] = text.strip()[:500]
    return found


def missing(workflow: str, gathered: dict[str, Any]) -> list[str]:
    model = INPUT_MODELS[workflow]
    return [name for name, info in model.model_fields.items() if info.is_required() and name not in gathered]


@dataclass(frozen=True)
class Validated:
    inputs: _Input | None
    problems: list[str]


def validate(workflow: str, gathered: dict[str, Any]) -> Validated:
    """Inputs are executed only after the workflow's model accepts them; problems say what to ask again."""
    try:
        return Validated(INPUT_MODELS[workflow].model_validate(gathered), [])
    except ValidationError as exc:
        return Validated(None, [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()])


class CustomerDirectory(Protocol):
    """Looks customers up in the back end (the demo back end implements it)."""

    async def find_customer_by_email(self, email: str) -> Any: ...  # has .id and .org, or None

    async def get_order(self, order_id: str) -> Any: ...  # has .customer_id, or None

    async def customer(self, customer_id: str) -> Any: ...  # has .org, or None
