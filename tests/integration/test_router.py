"""The embedding router with the real local embedder, on a small hand-written shop-support set."""

from __future__ import annotations

import pytest

from handlers.errors import RouterNotFitted, RoutingDataError
from handlers.router import EmbeddingRouter, Route
from knowledge.embedder import LocalEmbedder

pytestmark = pytest.mark.integration

TRAINING = [
    ("Where is my order?", "order_status"),
    ("When will my package arrive?", "order_status"),
    ("Can you track my parcel for me?", "order_status"),
    ("My delivery hasn't shown up yet", "order_status"),
    ("Has my order shipped?", "order_status"),
    ("I want my money back", "refund"),
    ("How do I get a refund for this item?", "refund"),
    ("Please refund my purchase", "refund"),
    ("The product was broken, I'd like a refund", "refund"),
    ("When will the refund reach my card?", "refund"),
    ("I forgot my password", "reset_password"),
    ("How do I reset my password?", "reset_password"),
    ("I can't log in to my account", "reset_password"),
    ("The password reset email never arrived", "reset_password"),
    ("Locked out of my account, need a new password", "reset_password"),
    ("I need to change my shipping address", "change_address"),
    ("Can I update the delivery address on my order?", "change_address"),
    ("I moved, please send it to my new address", "change_address"),
    ("Wrong address on my order, can you fix it?", "change_address"),
    ("How do I edit the address on my account?", "change_address"),
    # out-of-scope lines are not a class: fit must skip them
    ("What's the weather like in Paris?", "oos"),
    ("Tell me a joke about penguins", "oos"),
]
VALIDATION = [
    ("where's my stuff, it was supposed to come monday", "order_status"),
    ("I'd like to return this and be reimbursed", "refund"),
    ("I don't remember my login password", "reset_password"),
    ("please ship to a different street address", "change_address"),
    ("Who won the football match last night?", "oos"),
    ("What is the capital of Australia?", "oos"),
    ("Recommend a good recipe for lasagna", "oos"),
]
PARAPHRASES = {
    "Any news on the shipment I ordered last week?": "order_status",
    "I'd like a reimbursement for the damaged blender": "refund",
    "Help, I can't remember my password": "reset_password",
    "My address changed, please update it before you ship": "change_address",
}


@pytest.fixture(scope="module")
async def router(embedder: LocalEmbedder) -> EmbeddingRouter:
    fitted = EmbeddingRouter(embedder)
    await fitted.fit(TRAINING)
    routes = await fitted.route_many([text for text, _ in VALIDATION])
    fitted.choose_threshold(routes, [label for _, label in VALIDATION])
    return fitted


async def test_paraphrases_go_to_their_workflow(router: EmbeddingRouter) -> None:
    assert router.is_fitted
    assert router.labels == ("change_address", "order_status", "refund", "reset_password")
    routes = await router.route_many(list(PARAPHRASES))
    assert [route.label for route in routes] == list(PARAPHRASES.values())
    for route in routes:
        assert len(route.ranked) == 3
        assert route.ranked[0] == (route.label, route.confidence)
        assert [p for _, p in route.ranked] == sorted((p for _, p in route.ranked), reverse=True)
        assert 0 < sum(p for _, p in route.ranked) <= 1 + 1e-9


async def test_an_unrelated_question_is_out_of_scope(router: EmbeddingRouter) -> None:
    assert router.threshold is not None and router.threshold > 0
    route = await router.route("How many moons does Jupiter have?")
    assert route.label is None
    assert 0 < route.confidence < router.threshold
    assert len(route.ranked) == 3  # kept, so that another threshold can be applied afterwards


async def test_without_a_threshold_everything_gets_a_label(embedder: LocalEmbedder) -> None:
    unbounded = EmbeddingRouter(embedder)
    await unbounded.fit(TRAINING)
    assert unbounded.threshold is None
    route = await unbounded.route("How many moons does Jupiter have?")
    assert route.label in unbounded.labels


async def test_fitting_is_deterministic(embedder: LocalEmbedder, router: EmbeddingRouter) -> None:
    again = EmbeddingRouter(embedder, threshold=router.threshold)
    await again.fit(TRAINING)
    texts = [*PARAPHRASES, "How many moons does Jupiter have?"]
    assert await again.route_many(texts) == await router.route_many(texts)


async def test_empty_text_has_no_route(router: EmbeddingRouter) -> None:
    assert await router.route("") == Route(None, 0.0, ())
    routes = await router.route_many(["   ", "Where is my order?", ""])
    assert routes[0] == routes[2] == Route(None, 0.0, ())
    assert routes[1].label == "order_status"


async def test_routing_before_fit_is_an_error(embedder: LocalEmbedder) -> None:
    unfitted = EmbeddingRouter(embedder)
    assert not unfitted.is_fitted and unfitted.labels == ()
    with pytest.raises(RouterNotFitted):
        await unfitted.route("Where is my order?")


async def test_one_label_is_not_enough_to_route(embedder: LocalEmbedder) -> None:
    with pytest.raises(RoutingDataError, match="at least two labels"):
        await EmbeddingRouter(embedder).fit([("Where is my order?", "order_status"), ("Tell me a joke", "oos")])


def test_bad_settings_are_refused(embedder: LocalEmbedder) -> None:
    with pytest.raises(ValueError, match="c must be positive"):
        EmbeddingRouter(embedder, c=0)
    with pytest.raises(ValueError, match="probability"):
        EmbeddingRouter(embedder, threshold=1.5)
