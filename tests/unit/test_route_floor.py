"""The offline router is a floor: how its route and the model's pick combine (handlers.tool_routing)."""

from __future__ import annotations

from handlers.ports import Route
from handlers.tool_routing import SUPPORT_FLOOR, ToolChoice, combined_route

# thresholds of the sample policy (examples/policy/acme.yaml); policy defaults to 0.6 for the others
THRESHOLDS = {"answer": 0.55, "order_status": 0.6, "refund": 0.7, "cancel_order": 0.7, "change_email": 0.8}


def threshold(label: str) -> float | None:
    return THRESHOLDS.get(label, 0.6 if label in {"talk_to_human", "out_of_scope"} else None)


def offline(*ranked: tuple[str, float]) -> Route:
    return Route(ranked[0][0], ranked[0][1], ranked)


CONFIDENT_REFUND = offline(("refund", 0.93), ("answer", 0.02), ("talk_to_human", 0.01))


def test_without_a_model_pick_the_offline_route_stands() -> None:
    decided = combined_route(ToolChoice(None), CONFIDENT_REFUND, threshold=threshold)
    assert decided.route == CONFIDENT_REFUND and decided.rule == "no_model_vote"
    assert decided.votes == {
        "offline": ["refund", 0.93],
        "model": None,
        "agreed": False,
        "model_probability": None,
        "support_floor": SUPPORT_FLOOR,
        "rule": "no_model_vote",
    }


def test_agreement_keeps_the_offline_probability() -> None:
    decided = combined_route(ToolChoice("refund"), CONFIDENT_REFUND, threshold=threshold)
    assert decided.route == CONFIDENT_REFUND and decided.rule == "agreed" and decided.votes["agreed"] is True


def test_a_confident_offline_route_is_kept_against_an_unsupported_model_pick() -> None:
    decided = combined_route(ToolChoice("order_status"), CONFIDENT_REFUND, threshold=threshold)
    assert decided.route == CONFIDENT_REFUND and decided.rule == "offline_kept"
    assert decided.votes["model"] == "order_status" and decided.votes["model_probability"] == 0.0
    decided = combined_route(ToolChoice("answer"), CONFIDENT_REFUND, threshold=threshold)
    assert decided.route.label == "refund" and decided.votes["model_probability"] == 0.02


def test_a_supported_model_pick_wins_at_the_offline_probability() -> None:
    route = offline(("refund", 0.84), ("answer", 0.12), ("order_status", 0.02))
    decided = combined_route(ToolChoice("answer"), route, threshold=threshold)
    assert decided.rule == "model_supported"
    assert decided.route == Route("answer", 0.12, route.ranked)


def test_the_model_asking_for_a_person_always_hands_off() -> None:
    decided = combined_route(ToolChoice("talk_to_human"), CONFIDENT_REFUND, threshold=threshold)
    assert decided.rule == "person_requested" and decided.route.label == "talk_to_human"


def test_a_confident_offline_request_for_a_person_beats_the_model() -> None:
    route = offline(("talk_to_human", 0.97), ("answer", 0.02), ("out_of_scope", 0.01))
    decided = combined_route(ToolChoice("answer"), route, threshold=threshold)
    assert decided.rule == "person_requested" and decided.route.label == "talk_to_human"
    assert decided.route.confidence == 0.97


def test_a_confident_offline_request_for_a_person_wins_even_over_a_supported_pick() -> None:
    route = offline(("talk_to_human", 0.62), ("answer", 0.3), ("out_of_scope", 0.05))
    decided = combined_route(ToolChoice("answer"), route, threshold=threshold)
    assert decided.route == route


def test_a_model_only_pick_never_clears_a_threshold_on_its_word() -> None:
    """Whatever the offline ranking, a pick it does not back never gets a confidence it does not give."""
    for route in [
        offline(("answer", 0.5), ("order_status", 0.45), ("refund", 0.03)),  # offline unsure
        offline(("out_of_scope", 0.93), ("answer", 0.05), ("talk_to_human", 0.01)),  # order_status unranked
        Route(None, 0.3, (("out_of_scope", 0.3), ("answer", 0.25), ("order_status", 0.2))),  # out of scope
    ]:
        for workflow in ["order_status", "refund", "cancel_order", "change_email"]:
            decided = combined_route(ToolChoice(workflow), route, threshold=threshold)
            if decided.route.label == workflow:
                assert decided.route.confidence == dict(route.ranked).get(workflow, 0.0)
                assert decided.route.confidence < THRESHOLDS[workflow], (workflow, route)
            else:
                assert decided.rule == "offline_kept" and decided.route == route
