"""Score fusion: min-max scaling, convex combination, weighted RRF and ranks."""

from __future__ import annotations

import pytest

from knowledge.fusion import DEFAULT_MARGIN, Fusion, FusionConfig, fuse, min_max, ranks
from knowledge.models import Candidate


def _order(scores: list[float]) -> list[int]:
    """Candidate indices best first; ties keep input order."""
    return sorted(range(len(scores)), key=lambda i: -scores[i])


# --- min_max --------------------------------------------------------------------------------------------


def test_min_max_all_missing() -> None:
    assert min_max([None, None, None]) == [0.0, 0.0, 0.0]
    assert min_max([]) == []


def test_min_max_single_value_maps_to_one() -> None:
    assert min_max([0.42]) == [1.0]
    assert min_max([None, 0.42, None]) == [0.0, 1.0, 0.0]


def test_min_max_equal_values_map_to_one() -> None:
    assert min_max([0.3, 0.3, None, 0.3]) == [1.0, 1.0, 0.0, 1.0]


def test_min_max_scales_linearly() -> None:
    assert min_max([2.0, 4.0, None, 3.0, -2.0]) == pytest.approx([2 / 3, 1.0, 0.0, 5 / 6, 0.0])


# --- convex fusion --------------------------------------------------------------------------------------

# dense   [0.9, 0.5, 0.7, 0.6] -> min-max [1, 0, 0.5, 0.25]
# lexical [0.2, 0.6, --, 0.4]  -> min-max [0, 1, 0, 0.5]   (c3 matched no term)
CANDIDATES = [
    Candidate(chunk_id=1, dense=0.9, lexical=0.2, dense_rank=1, lexical_rank=3),
    Candidate(chunk_id=2, dense=0.5, lexical=0.6, dense_rank=4, lexical_rank=1),
    Candidate(chunk_id=3, dense=0.7, lexical=None, dense_rank=2, lexical_rank=None),
    Candidate(chunk_id=4, dense=0.6, lexical=0.4, dense_rank=3, lexical_rank=2),
]


def test_convex_fusion_known_example() -> None:
    scores = fuse(CANDIDATES, FusionConfig(method=Fusion.CONVEX, dense_weight=0.75))
    assert scores == pytest.approx([0.75, 0.25, 0.375, 0.3125])
    assert _order(scores) == [0, 2, 3, 1]


def test_convex_fusion_equal_weights() -> None:
    scores = fuse(CANDIDATES, FusionConfig(method=Fusion.CONVEX, dense_weight=0.5))
    assert scores == pytest.approx([0.5, 0.5, 0.25, 0.375])


def test_candidate_without_lexical_match_gets_only_the_dense_part() -> None:
    none = fuse(CANDIDATES, FusionConfig(method=Fusion.CONVEX, dense_weight=0.6))
    zero = fuse(
        [*CANDIDATES[:2], Candidate(3, 0.7, 0.0, 2, None), CANDIDATES[3]],
        FusionConfig(method=Fusion.CONVEX, dense_weight=0.6),
    )
    assert none[2] == pytest.approx(0.6 * 0.5)
    assert zero == pytest.approx(none)


def test_zero_lexical_score_is_not_the_bottom_of_the_range() -> None:
    # Only one real lexical match: it maps to 1, and the zero is "no match", not the minimum.
    candidates = [Candidate(1, 0.5, 0.0, 1, None), Candidate(2, 0.5, 0.01, 2, 1)]
    assert fuse(candidates, FusionConfig(method=Fusion.CONVEX, dense_weight=0.5)) == pytest.approx([0.5, 1.0])


def test_dense_weight_one_reproduces_dense_order() -> None:
    scores = fuse(CANDIDATES, FusionConfig(method=Fusion.CONVEX, dense_weight=1.0))
    assert scores == pytest.approx([1.0, 0.0, 0.5, 0.25])
    assert _order(scores) == _order([c.dense or 0.0 for c in CANDIDATES]) == [0, 2, 3, 1]


def test_dense_weight_zero_reproduces_lexical_order() -> None:
    scores = fuse(CANDIDATES, FusionConfig(method=Fusion.CONVEX, dense_weight=0.0))
    assert scores == pytest.approx([0.0, 1.0, 0.0, 0.5])
    assert _order(scores)[:3] == [1, 3, 0]


def test_fuse_of_nothing() -> None:
    assert fuse([], FusionConfig()) == []
    assert fuse([], FusionConfig(method=Fusion.RRF)) == []


# --- reciprocal rank fusion -----------------------------------------------------------------------------


def test_rrf_known_ranks() -> None:
    config = FusionConfig(method=Fusion.RRF, dense_weight=0.75, rrf_k=60)
    scores = fuse(CANDIDATES, config)
    assert scores == pytest.approx([0.75 / 61 + 0.25 / 63, 0.75 / 64 + 0.25 / 61, 0.75 / 62, 0.75 / 63 + 0.25 / 62])
    # ~[0.01626, 0.01582, 0.01210, 0.01594]: unlike convex fusion, matching in both modes beats
    # a good dense-only rank (c3 drops to last).
    assert _order(scores) == [0, 3, 1, 2]


def test_rrf_uses_rrf_k_and_ignores_missing_ranks() -> None:
    config = FusionConfig(method=Fusion.RRF, dense_weight=0.5, rrf_k=1)
    candidates = [
        Candidate(1, None, None, None, None),
        Candidate(2, None, 3.0, None, 1),
        Candidate(3, 0.1, None, 2, None),
    ]
    assert fuse(candidates, config) == pytest.approx([0.0, 0.5 / 2, 0.5 / 3])


def test_rrf_is_selected_by_method_not_by_scores() -> None:
    # Raw scores are ignored by RRF: only the ranks matter.
    a = [Candidate(1, 0.99, 50.0, 2, 2), Candidate(2, 0.01, 0.001, 1, 1)]
    scores = fuse(a, FusionConfig(method=Fusion.RRF))
    assert scores[1] > scores[0]


# --- ranks ----------------------------------------------------------------------------------------------


def test_ranks_best_first_with_missing() -> None:
    assert ranks([0.1, None, 0.9, 0.5]) == [3, None, 1, 2]


def test_ranks_ties_keep_input_order() -> None:
    assert ranks([0.3, 0.7, 0.3, None, 0.7]) == [3, 1, 4, None, 2]


def test_ranks_edge_cases() -> None:
    assert ranks([]) == []
    assert ranks([None, None]) == [None, None]
    assert ranks([0.0, -1.0, 2.0]) == [2, 3, 1]


# --- FusionConfig ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("weight", [-0.01, 1.01, 2.0, float("nan")])
def test_fusion_config_rejects_weight_outside_unit_interval(weight: float) -> None:
    with pytest.raises(ValueError, match="dense_weight must be between 0 and 1"):
        FusionConfig(dense_weight=weight)


@pytest.mark.parametrize("weight", [0.0, 0.5, 1.0])
def test_fusion_config_accepts_bounds(weight: float) -> None:
    assert FusionConfig(dense_weight=weight).dense_weight == weight


def test_fusion_config_defaults() -> None:
    assert FusionConfig() == FusionConfig(method=Fusion.DENSE_FIRST, dense_weight=0.75, rrf_k=60, margin=DEFAULT_MARGIN)
    assert Fusion("rrf") is Fusion.RRF
    assert Fusion("dense-first") is Fusion.DENSE_FIRST
