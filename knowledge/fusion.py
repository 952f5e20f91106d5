"""Combining dense and full-text scores into one ranking. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from knowledge.models import Candidate


class Fusion(StrEnum):
    CONVEX = "convex"
    RRF = "rrf"


@dataclass(frozen=True)
class FusionConfig:
    method: Fusion = Fusion.CONVEX
    dense_weight: float = 0.75
    rrf_k: int = 60

    def __post_init__(self) -> None:
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ValueError("dense_weight must be between 0 and 1")


def min_max(values: Sequence[float | None]) -> list[float]:
    """Scale to [0, 1] per query; missing scores are 0. A single distinct value maps to 1."""
    present = [value for value in values if value is not None]
    if not present:
        return [0.0 for _ in values]
    low, high = min(present), max(present)
    span = high - low
    return [0.0 if value is None else (1.0 if span == 0 else (value - low) / span) for value in values]


def fuse(candidates: Sequence[Candidate], config: FusionConfig) -> list[float]:
    """One fused score per candidate, in the same order."""
    if config.method is Fusion.RRF:
        return [_rrf(candidate, config) for candidate in candidates]
    # A zero lexical score means "no term matched": it must not count as the minimum of a
    # range, or a single weak match would be stretched to full weight.
    lexical = [c.lexical if c.lexical else None for c in candidates]
    dense = min_max([c.dense for c in candidates])
    lexical_scaled = min_max(lexical)
    weight = config.dense_weight
    return [weight * d + (1.0 - weight) * lex for d, lex in zip(dense, lexical_scaled, strict=True)]


def _rrf(candidate: Candidate, config: FusionConfig) -> float:
    score = 0.0
    if candidate.dense_rank is not None:
        score += config.dense_weight / (config.rrf_k + candidate.dense_rank)
    if candidate.lexical_rank is not None:
        score += (1.0 - config.dense_weight) / (config.rrf_k + candidate.lexical_rank)
    return score


def ranks(scores: Sequence[float | None]) -> list[int | None]:
    """1-based rank of each present score, best first; ties keep input order."""
    order = sorted((i for i, s in enumerate(scores) if s is not None), key=lambda i: -(scores[i] or 0.0))
    result: list[int | None] = [None] * len(scores)
    for position, index in enumerate(order, start=1):
        result[index] = position
    return result
