"""Ports the conversation core needs, implemented elsewhere and chosen in the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Route:
    """The router's verdict: a workflow, or None for out of scope, with its confidence."""

    label: str | None
    confidence: float
    ranked: tuple[tuple[str, float], ...] = ()


class Router(Protocol):
    async def route(self, text: str) -> Route: ...
