"""Outbound items to JSON and back: a turn's decided items are stored, so a re-run after a crash delivers
what was decided instead of deciding again."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from handlers.models import ApprovalRequest, HandoffNotice, Outbound, Reply, StaffNote

_KINDS: dict[str, type[Any]] = {
    "reply": Reply,
    "approval_request": ApprovalRequest,
    "handoff": HandoffNotice,
    "staff_note": StaffNote,
}
_NAMES = {kind: name for name, kind in _KINDS.items()}
_ADAPTERS = {name: TypeAdapter(kind) for name, kind in _KINDS.items()}


def encode(items: list[Outbound]) -> list[dict[str, Any]]:
    return [
        {"kind": _NAMES[type(item)], "item": _ADAPTERS[_NAMES[type(item)]].dump_python(item, mode="json")}
        for item in items
    ]


def decode(stored: list[dict[str, Any]]) -> list[Outbound]:
    items: list[Outbound] = []
    for entry in stored:
        items.append(_ADAPTERS[entry["kind"]].validate_python(entry["item"]))
    return items
