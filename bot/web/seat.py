"""Where someone sits in the playground: which org and customer the customer pane shows, which conversation
of theirs, and who they act as (the "who am I" switch). A customer always sits in their own conversations."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.web.access import ConsoleRole, Person
from bot.web.directory import DEFAULT_CUSTOMER
from bot.web.front import conversation_key
from bot.web.security import session_value, set_session_value

_SEAT = "seat"
_NAME_MAX = 64


@dataclass(frozen=True)
class Seat:
    org: str | None
    customer: str
    thread: str
    role: ConsoleRole  # who they act as

    @property
    def key(self) -> str:
        return conversation_key(self.org, self.customer, self.thread)

    def query(self) -> str:
        return f"org={self.org or ''}&customer={self.customer}&thread={self.thread}&as={self.role.value}"


def _name(value: Any, default: str) -> str:
    """Org, customer and thread names end up in a conversation key: one short word each."""
    text = str(value or "").strip()
    ok = text and len(text) <= _NAME_MAX and all(c.isalnum() or c in "-_." for c in text)
    return text if ok else default


async def seat_of(request: web.Request, person: Person, values: Mapping[str, Any] | None = None) -> Seat:
    """The seat named by `values` (a query or a form), else the one this session sat in last; remembered."""
    given = values if values is not None else request.query
    last: dict[str, Any] = await session_value(request, _SEAT) or {}
    merged = {name: given.get(name) or last.get(name) for name in ("org", "customer", "thread", "as")}
    if "org" in given:  # an empty org is a choice too: a consumer
        merged["org"] = given.get("org")
    try:
        role = ConsoleRole(str(merged["as"]))
    except ValueError:
        role = ConsoleRole.CUSTOMER  # the playground starts with you as the customer; staff switch
    if not person.may_act_as(role):
        role = person.role
    if person.role is ConsoleRole.CUSTOMER:
        org, customer = person.org, person.id
    else:
        org = _name(merged["org"], "") or None
        customer = _name(merged["customer"], DEFAULT_CUSTOMER)
    seat = Seat(org, customer, _name(merged["thread"], secrets.token_hex(4)), role)
    await _remember(request, seat)
    return seat


async def new_thread(request: web.Request, person: Person, values: Mapping[str, Any]) -> Seat:
    seat = await seat_of(request, person, values)
    fresh = Seat(seat.org, seat.customer, secrets.token_hex(4), seat.role)
    await _remember(request, fresh)
    return fresh


async def _remember(request: web.Request, seat: Seat) -> None:
    remembered = {"org": seat.org or "", "customer": seat.customer, "thread": seat.thread, "as": seat.role.value}
    await set_session_value(request, _SEAT, remembered)
