"""Choosing an org's hybrid-search fusion on its own questions, so that it never loses to dense search alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from knowledge.fusion import Fusion, FusionConfig

DENSE = FusionConfig(method=Fusion.DENSE_FIRST, margin=0.0)
"""Dense-first with no margin is dense search: full text only adds hits below every dense one."""

CANDIDATE_FUSIONS: tuple[FusionConfig, ...] = (
    DENSE,
    *(FusionConfig(method=Fusion.DENSE_FIRST, margin=margin) for margin in (0.01, 0.02, 0.03, 0.04, 0.05, 0.08, 0.12)),
    *(FusionConfig(method=Fusion.CONVEX, dense_weight=weight) for weight in (0.6, 0.7, 0.75, 0.8, 0.9)),
    *(FusionConfig(method=Fusion.RRF, dense_weight=weight) for weight in (0.5, 0.7)),
)
"""What `supportbot eval calibrate-fusion` and `eval retrieval --sweep` measure."""

# Fewer questions than this choose by noise: one question moves recall@1 by more than 5 points.
MIN_QUESTIONS = 20
_NEVER_BELOW_DENSE = ("recall@1", "recall@5")


class CalibrationError(ValueError):
    """The questions cannot choose a fusion (too few of them, or figures missing)."""


def check_enough(questions: int) -> None:
    if questions < MIN_QUESTIONS:
        raise CalibrationError(
            f"{questions} questions are too few to choose a fusion by (at least {MIN_QUESTIONS}); "
            "the org keeps the default"
        )


@dataclass(frozen=True)
class Choice:
    fusion: FusionConfig
    reason: str


def choose_fusion(
    figures: dict[str, dict[str, float]],
    *,
    candidates: Sequence[FusionConfig] = CANDIDATE_FUSIONS,
    default: FusionConfig,
    k: int = 10,
) -> Choice:
    """The candidate with the highest MRR@k among those at least as good as dense alone on recall@1, recall@5
    and MRR; ties go to `default`, then to the order of `candidates` (dense first: the simplest)."""
    mrr = f"mrr@{k}"
    pool = [*dict.fromkeys([default, *candidates])]  # the default is always a candidate
    missing = [fusion.label for fusion in [DENSE, *pool] if fusion.label not in figures]
    if missing:
        raise CalibrationError(f"no figures for {', '.join(missing)}")
    dense = figures[DENSE.label]
    eligible = [
        fusion for fusion in pool if all(figures[fusion.label][key] >= dense[key] for key in (*_NEVER_BELOW_DENSE, mrr))
    ]
    order = {fusion: index for index, fusion in enumerate(pool)}
    best = max(eligible, key=lambda fusion: (figures[fusion.label][mrr], -order[fusion]))
    chosen = figures[best.label]
    if best == default:
        reason = f"the default is as good as any ({mrr} {chosen[mrr]:.3f})"
    else:
        reason = (
            f"best {mrr} ({chosen[mrr]:.3f}; default {figures[default.label][mrr]:.3f}, dense {dense[mrr]:.3f}) "
            "without losing recall@1 or recall@5 to dense"
        )
    return Choice(best, reason)
