"""Combining dense and full-text scores into one ranking. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from knowledge.models import Candidate


class Fusion(StrEnum):
    DENSE_FIRST = "dense-first"
    CONVEX = "convex"
    RRF = "rrf"


# Chosen on the kbqa-dev development set (docs/retrieval-eval.md): margins 0.03–0.05 were a plateau above
# dense alone on recall@1 and MRR@10; from 0.08 full text began to push first hits down.
DEFAULT_MARGIN = 0.04


@dataclass(frozen=True)
class FusionConfig:
    """How hybrid search combines its two scores.

    - `dense-first`: the cosine similarity plus at most `margin` for full-text (its per-query min-max share),
      so full text only reorders results whose cosines lie within `margin` of each other and adds hits
      below the dense ones; a result more than `margin` of cosine below another can never pass it.
    - `convex`: `dense_weight` × min-max dense + the rest × min-max full text.
    - `rrf`: weighted reciprocal-rank fusion with rank constant `rrf_k`.
    """

    method: Fusion = Fusion.DENSE_FIRST
    dense_weight: float = 0.75
    rrf_k: int = 60
    margin: float = DEFAULT_MARGIN

    def __post_init__(self) -> None:
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ValueError("dense_weight must be between 0 and 1")
        if not 0.0 <= self.margin <= 1.0:
            raise ValueError("margin must be between 0 and 1")

    @property
    def label(self) -> str:
        """A short name for reports: `dense-first 0.02`, `convex 0.75`, `rrf 0.70`."""
        if self.method is Fusion.DENSE_FIRST:
            return f"dense-first {self.margin:g}"
        return f"{self.method.value} {self.dense_weight:g}"


def min_max(values: Sequence[float | None]) -> list[float]:
    """Scale to [0, 1] per query; missing scores are 0. A single distinct value maps to 1."""
    present = [value for value in values if value is not None]
    if not present:
        return [0.0 for _ in values]
    low, high = min(present), max(present)
    span = high - low
    return [0.0 if value is None else (1.0 if span == 0 else (value - low) / span) for value in values]


def fuse(candidates: Sequence[Candidate], config: FusionConfig) -> list[float]:
    """One fused score per candidate, in the same order, in [0, 1]."""
    if config.method is Fusion.RRF:
        return [_rrf(candidate, config) for candidate in candidates]
    # A zero lexical score means "no term matched": it must not count as the minimum of a
    # range, or a single weak match would be stretched to full weight.
    lexical_scaled = min_max([c.lexical if c.lexical else None for c in candidates])
    if config.method is Fusion.DENSE_FIRST:
        lowest = min((c.dense for c in candidates if c.dense is not None), default=0.0)
        raw = [
            (lowest if c.dense is None else c.dense) + config.margin * lex
            for c, lex in zip(candidates, lexical_scaled, strict=True)
        ]
        # min-max keeps the order and puts scores on the same [0, 1] scale as convex fusion's
        return min_max(raw)
    dense = min_max([c.dense for c in candidates])
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
