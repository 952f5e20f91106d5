"""The floors check itself: a figure that drops below its floor fails, naming the figure and its record."""

from __future__ import annotations

from tests.eval_gate import FLOORS, SPLITS, Floor, below_floors, load_floors

FLOOR = Floor("retrieval kbqa-dev hybrid recall@1", 0.95, 0.942, "kbqa-dev: all", "2026-11-29", "abc1234")


def test_a_drop_below_a_floor_fails_and_says_which_figure_from_what() -> None:
    floors = {FLOOR.name: FLOOR}
    assert below_floors(floors, {FLOOR.name: 0.942}, prefix="retrieval") == []
    assert below_floors(floors, {FLOOR.name: 0.96}, prefix="retrieval") == []
    [problem] = below_floors(floors, {FLOOR.name: 0.9}, prefix="retrieval")
    assert problem == (
        "retrieval kbqa-dev hybrid recall@1: 0.9000 is below its floor 0.9420 "
        "(0.9500 measured on 2026-11-29 at abc1234; kbqa-dev: all)"
    )


def test_a_figure_missing_on_either_side_fails() -> None:
    floors = {FLOOR.name: FLOOR}
    assert below_floors(floors, {}, prefix="retrieval") == [f"{FLOOR.name}: has a floor but was not measured"]
    assert below_floors(floors, {FLOOR.name: 0.95, "retrieval new": 0.5}, prefix="retrieval") == [
        "retrieval new: measured but has no floor"
    ]
    # floors of the other part are not this part's business
    assert below_floors(floors, {}, prefix="routing") == []


def test_every_recorded_floor_has_a_date_a_commit_and_a_known_split() -> None:
    floors = load_floors(FLOORS)
    assert floors, "tests/eval_floors.json records no figures"
    for floor in floors.values():
        assert floor.floor <= floor.measured
        assert len(floor.date) == 10 and floor.commit
        assert floor.split in SPLITS.values()
