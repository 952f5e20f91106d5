"""Choosing an org's fusion from measured figures: the best MRR that never loses to dense alone."""

from __future__ import annotations

import pytest

from knowledge.calibration import DENSE, CalibrationError, check_enough, choose_fusion
from knowledge.fusion import Fusion, FusionConfig

DEFAULT = FusionConfig(method=Fusion.DENSE_FIRST, margin=0.02)
CONVEX = FusionConfig(method=Fusion.CONVEX, dense_weight=0.75)
WIDE = FusionConfig(method=Fusion.DENSE_FIRST, margin=0.08)
CANDIDATES = (DENSE, DEFAULT, WIDE, CONVEX)


def _figures(**by_label: tuple[float, float, float]) -> dict[str, dict[str, float]]:
    return {label: {"recall@1": r1, "recall@5": r5, "mrr@10": mrr} for label, (r1, r5, mrr) in by_label.items()}


def test_a_higher_mrr_that_loses_the_first_hit_to_dense_is_not_chosen() -> None:
    # convex: best MRR and recall@5, but recall@1 below dense, the pattern the issue measured on FAQ sets
    figures = _figures(
        **{
            DENSE.label: (0.90, 0.95, 0.920),
            DEFAULT.label: (0.90, 0.96, 0.925),
            WIDE.label: (0.91, 0.96, 0.924),
            CONVEX.label: (0.88, 0.99, 0.930),
        }
    )
    choice = choose_fusion(figures, candidates=CANDIDATES, default=DEFAULT)
    assert choice.fusion == DEFAULT
    assert "0.925" in choice.reason


def test_another_setting_wins_only_when_it_is_better_and_no_worse_than_dense() -> None:
    figures = _figures(
        **{
            DENSE.label: (0.90, 0.95, 0.920),
            DEFAULT.label: (0.90, 0.95, 0.921),
            WIDE.label: (0.92, 0.97, 0.940),
            CONVEX.label: (0.89, 0.99, 0.950),
        }
    )
    choice = choose_fusion(figures, candidates=CANDIDATES, default=DEFAULT)
    assert choice.fusion == WIDE
    assert "best mrr@10 (0.940; default 0.921, dense 0.920)" in choice.reason


def test_ties_keep_the_default_and_dense_wins_when_every_fusion_loses() -> None:
    tie = _figures(**{label: (0.9, 0.95, 0.92) for label in (DENSE.label, DEFAULT.label, WIDE.label, CONVEX.label)})
    assert choose_fusion(tie, candidates=CANDIDATES, default=DEFAULT).fusion == DEFAULT
    worse = _figures(
        **{
            DENSE.label: (0.90, 0.95, 0.920),
            DEFAULT.label: (0.89, 0.95, 0.930),
            WIDE.label: (0.90, 0.94, 0.930),
            CONVEX.label: (0.80, 0.99, 0.900),
        }
    )
    assert choose_fusion(worse, candidates=CANDIDATES, default=DEFAULT).fusion == DENSE


def test_missing_figures_and_too_few_questions_are_refused() -> None:
    with pytest.raises(CalibrationError, match=r"no figures for dense-first 0\.08, convex 0\.75"):
        choose_fusion(
            _figures(**{DENSE.label: (1, 1, 1), DEFAULT.label: (1, 1, 1)}), candidates=CANDIDATES, default=DEFAULT
        )
    with pytest.raises(CalibrationError, match="19 questions are too few"):
        check_enough(19)
    check_enough(20)
