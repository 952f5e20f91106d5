"""The Acme Gadgets demo back end: seed, exactly-once actions, refusals, rollbacks and reads."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from bot.demo.backend import DEMO_LABEL, DemoBackend
from bot.services import Services
from escalation.errors import ExecutionFailed, UnknownAction
from escalation.executors import ActionRequest, ActionResult
from knowledge.store import Pool

pytestmark = pytest.mark.integration


@pytest.fixture
async def demo(services: Services) -> DemoBackend:
    backend = DemoBackend(services.pool)
    await backend.reset_demo_data()
    return backend


async def rows(demo: DemoBackend, query: str, *params: Any) -> list[tuple[Any, ...]]:
    async with demo._pool.connection() as conn:
        return await (await conn.execute(query, params)).fetchall()


async def run(demo: DemoBackend, action: str, key: str, org: str | None = None, **params: Any) -> ActionResult:
    return await demo.execute(ActionRequest(action=action, params=params, idempotency_key=key, org=org))


async def refused(demo: DemoBackend, action: str, key: str, org: str | None = None, **params: Any) -> str:
    with pytest.raises(ExecutionFailed) as caught:
        await run(demo, action, key, org, **params)
    assert caught.value.retryable is False
    return str(caught.value)


async def refund_rows(demo: DemoBackend) -> list[tuple[Any, ...]]:
    return await rows(demo, "SELECT id, order_id, amount_cents, status, idempotency_key FROM demo.refunds ORDER BY id")


def pick(found: object, names: str) -> tuple[Any, ...]:
    assert found is not None
    return tuple(getattr(found, name) for name in names.split())


SEED_REFUNDS = [
    (1, "A-10221", 6278, "issued", "seed-refund-1"),
    (2, "A-10222", 2000, "reversed", "seed-refund-2"),
    (3, "A-10226", 3900, "issued", "seed-refund-3"),
]


# -- seed ---------------------------------------------------------------------------------------


async def test_the_seed_has_the_documented_ids(demo: DemoBackend) -> None:
    customers = await rows(demo, "SELECT id, org, tier FROM demo.customers ORDER BY id")
    assert [c[0] for c in customers] == [f"cus_{n}" for n in range(1001, 1013)]
    assert [c[:2] for c in customers if c[1]] == [
        ("cus_1010", "globex"),
        ("cus_1011", "globex"),
        ("cus_1012", "initech"),
    ]
    assert {c[2] for c in customers} == {"standard", "plus", "business"}
    orders = dict(await rows(demo, "SELECT status, count(*) FROM demo.orders GROUP BY 1"))
    assert orders == {"cancelled": 3, "delivered": 11, "packed": 3, "placed": 4, "shipped": 4}
    assert await rows(demo, "SELECT sum(total_cents) FROM demo.orders") == [(2429767,)]
    payments = await rows(
        demo,
        "SELECT count(*), count(captured_at) FROM demo.payments p JOIN demo.orders o ON o.id = p.order_id "
        "WHERE p.amount_cents = o.total_cents",
    )
    assert payments == [(22, 15)]  # every order but the cancelled; captured once shipped
    assert await refund_rows(demo) == SEED_REFUNDS
    assert await rows(demo, "SELECT count(*) FROM demo.executed_actions") == [(0,)]


async def test_ensure_seeded_loads_an_empty_schema_once(demo: DemoBackend) -> None:
    assert await demo.ensure_seeded() is False
    async with demo._pool.connection() as conn:
        await conn.execute("TRUNCATE demo.customers, demo.orders, demo.payments, demo.refunds, demo.email_changes")
    assert await demo.ensure_seeded() is True
    assert await demo.ensure_seeded() is False
    assert await rows(demo, "SELECT count(*) FROM demo.orders") == [(25,)]
    assert await refund_rows(demo) == SEED_REFUNDS


async def test_reset_undoes_changes_and_forgets_keys(demo: DemoBackend) -> None:
    await run(demo, "refund", "k-reset", order_id="A-10231", amount_cents=4000, reason="test")
    await demo.reset_demo_data()
    assert await refund_rows(demo) == SEED_REFUNDS
    again = await run(demo, "refund", "k-reset", order_id="A-10231", amount_cents=4000, reason="test")
    assert again.replayed is False
    assert again.reverse_params == {"refund_id": 4}  # sequences restart after the seed's ids


# -- refunds ------------------------------------------------------------------------------------


async def test_refund_within_bounds_is_written_and_summarised(demo: DemoBackend) -> None:
    result = await run(demo, "refund", "k1", order_id="A-10231", amount_cents=4000, reason="Damaged box")

    assert result.summary == DEMO_LABEL + "Refunded $40.00 to the card ending 4242 for order A-10231"
    assert result.data == {
        "refund_id": 4,
        "order_id": "A-10231",
        "amount_cents": 4000,
        "currency": "USD",
        "method": "card",
        "card_last4": "4242",
        "refundable_cents_left": 12800,
    }
    assert result.reverse_params == {"refund_id": 4}
    assert result.replayed is False
    assert await refund_rows(demo) == [*SEED_REFUNDS, (4, "A-10231", 4000, "issued", "k1")]
    assert await rows(demo, "SELECT reason FROM demo.refunds WHERE id = 4") == [("Damaged box",)]
    stored = await rows(demo, "SELECT action, params, result FROM demo.executed_actions")
    assert stored == [
        (
            "refund",
            {"order_id": "A-10231", "amount_cents": 4000, "reason": "Damaged box"},
            {
                "summary": result.summary.removeprefix(DEMO_LABEL),
                "data": result.data,
                "reverse_params": {"refund_id": 4},
            },
        )
    ]
    order = await demo.get_order("A-10231")
    assert order is not None
    assert (order.paid_cents, order.refunded_cents, order.refundable_cents) == (16800, 4000, 12800)


@pytest.mark.parametrize(
    ("order_id", "cents", "left", "summary"),
    [
        ("A-10229", 1999, 6901, "Refunded $19.99 to the PayPal account for order A-10229"),
        ("A-10235", 7800, 0, "Refunded $78.00 to the Klarna plan for order A-10235"),
        # the seed's $20.00 refund on A-10222 was reversed, so all of it is refundable
        ("A-10222", 17900, 0, "Refunded $179.00 to the card ending 1881 for order A-10222"),
    ],
)
async def test_refund_summaries_name_the_payment_method(
    demo: DemoBackend, order_id: str, cents: int, left: int, summary: str
) -> None:
    result = await run(demo, "refund", "k1", order_id=order_id, amount_cents=cents, reason="Price drop")
    assert (result.summary, result.data["refundable_cents_left"]) == (DEMO_LABEL + summary, left)


async def test_refund_above_the_remainder_is_refused_and_writes_nothing(demo: DemoBackend) -> None:
    message = await refused(demo, "refund", "k1", order_id="A-10226", amount_cents=21901, reason="Return")

    assert message == "cannot refund $219.01 for order A-10226: only $219.00 of the $258.00 paid is left to refund"
    assert await refund_rows(demo) == SEED_REFUNDS
    assert await rows(demo, "SELECT count(*) FROM demo.executed_actions") == [(0,)]
    # a refusal does not burn the key: the exact remainder can still be refunded under it
    result = await run(demo, "refund", "k1", order_id="A-10226", amount_cents=21900, reason="Return")
    assert result.summary == DEMO_LABEL + "Refunded $219.00 to the card ending 8431 for order A-10226"
    assert result.data["refundable_cents_left"] == 0


@pytest.mark.parametrize(
    ("order_id", "message"),
    [
        ("A-10240", "order A-10240 has not been charged (it is placed), so there is nothing to refund"),
        ("A-10237", "order A-10237 has not been charged (it is packed), so there is nothing to refund"),
        ("A-10224", "order A-10224 has not been charged (it is cancelled), so there is nothing to refund"),
        ("A-10221", "order A-10221 has already been refunded in full ($62.78)"),
    ],
)
async def test_orders_not_charged_or_fully_refunded_refuse_refunds(
    demo: DemoBackend, order_id: str, message: str
) -> None:
    assert await refused(demo, "refund", "k1", order_id=order_id, amount_cents=1, reason="x") == message
    assert await refund_rows(demo) == SEED_REFUNDS


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"order_id": "A-10231", "amount_cents": 0, "reason": "x"}, "a refund must be a positive number of cents"),
        ({"order_id": "A-10231", "amount_cents": "4000", "reason": "x"}, "parameter 'amount_cents' must be an integer"),
        ({"order_id": "A-10231", "amount_cents": True, "reason": "x"}, "parameter 'amount_cents' must be an integer"),
        ({"order_id": "A-10231", "amount_cents": 40.0, "reason": "x"}, "parameter 'amount_cents' must be an integer"),
        ({"order_id": "A-10231", "amount_cents": 4000}, "parameter 'reason' must be a non-empty string"),
        ({"amount_cents": 4000, "reason": "x"}, "parameter 'order_id' must be a non-empty string"),
    ],
)
async def test_bad_refund_params_are_refused(demo: DemoBackend, params: dict[str, Any], message: str) -> None:
    assert await refused(demo, "refund", "k1", **params) == message
    assert await refund_rows(demo) == SEED_REFUNDS


# -- exactly once -------------------------------------------------------------------------------


async def test_the_same_key_twice_refunds_once_and_replays(demo: DemoBackend) -> None:
    first = await run(demo, "refund", "k-twice", order_id="A-10231", amount_cents=4000, reason="Late")
    second = await run(demo, "refund", "k-twice", order_id="A-10231", amount_cents=4000, reason="Late")

    assert second.replayed is True
    assert (second.summary, second.data, second.reverse_params) == (first.summary, first.data, first.reverse_params)
    assert await refund_rows(demo) == [*SEED_REFUNDS, (4, "A-10231", 4000, "issued", "k-twice")]


async def test_a_key_reused_for_another_request_is_refused(demo: DemoBackend) -> None:
    await run(demo, "refund", "k1", order_id="A-10231", amount_cents=4000, reason="Late")
    message = await refused(demo, "refund", "k1", order_id="A-10231", amount_cents=5000, reason="Late")
    assert message == "idempotency key k1 was already used for a different request (refund)"
    message = await refused(demo, "cancel_order", "k1", order_id="A-10240")
    assert message == "idempotency key k1 was already used for a different request (refund)"
    assert len(await refund_rows(demo)) == 4
    assert await rows(demo, "SELECT status FROM demo.orders WHERE id = 'A-10240'") == [("placed",)]


async def test_twenty_concurrent_executions_of_one_key_refund_once(demo: DemoBackend) -> None:
    request = ActionRequest(
        action="refund",
        params={"order_id": "A-10234", "amount_cents": 12900, "reason": "Never arrived"},
        idempotency_key="k-race",
    )
    results = await asyncio.gather(*(demo.execute(request) for _ in range(20)))

    assert sorted(result.replayed for result in results) == [False] + [True] * 19
    assert {result.summary for result in results} == {
        DEMO_LABEL + "Refunded $129.00 to the card ending 1881 for order A-10234"
    }
    assert await refund_rows(demo) == [*SEED_REFUNDS, (4, "A-10234", 12900, "issued", "k-race")]


async def test_concurrent_refunds_under_different_keys_never_exceed_the_payment(demo: DemoBackend) -> None:
    requests = [
        ActionRequest("refund", {"order_id": "A-10229", "amount_cents": 5000, "reason": "x"}, f"k{n}") for n in range(6)
    ]
    outcomes = await asyncio.gather(*(demo.execute(r) for r in requests), return_exceptions=True)

    assert sum(isinstance(o, ActionResult) for o in outcomes) == 1  # $89.00 paid: only one $50.00 fits
    assert all(isinstance(o, ExecutionFailed) and not o.retryable for o in outcomes if not isinstance(o, ActionResult))
    assert await rows(demo, "SELECT sum(amount_cents) FROM demo.refunds WHERE order_id = 'A-10229'") == [(5000,)]


# -- reversals ----------------------------------------------------------------------------------


async def test_reverse_refund_with_the_reverse_params(demo: DemoBackend) -> None:
    refund = await run(demo, "refund", "k1", order_id="A-10231", amount_cents=4000, reason="Late")
    assert refund.reverse_params is not None

    undo = await run(demo, "reverse_refund", "k1-undo", **refund.reverse_params)

    assert undo.summary == DEMO_LABEL + "Reversed the $40.00 refund for order A-10231"
    assert undo.reverse_params is None
    assert (await refund_rows(demo))[-1] == (4, "A-10231", 4000, "reversed", "k1")
    assert await rows(demo, "SELECT reversed_at IS NOT NULL FROM demo.refunds WHERE id = 4") == [(True,)]
    order = await demo.get_order("A-10231")
    assert order is not None and order.refundable_cents == 16800
    message = await refused(demo, "reverse_refund", "k1-undo-again", refund_id=4)
    assert message == "refund 4 for order A-10231 was already reversed"
    assert await refused(demo, "reverse_refund", "k-none", refund_id=99) == "there is no refund 99"


async def test_cancel_then_reinstate(demo: DemoBackend) -> None:
    cancelled = await run(demo, "cancel_order", "k-cancel", order_id="A-10236")

    assert cancelled.summary == DEMO_LABEL + "Cancelled order A-10236; nothing was charged for it"
    assert cancelled.reverse_params == {"order_id": "A-10236", "previous_status": "packed"}
    order = await demo.get_order("A-10236")
    assert order is not None and order.status == "cancelled" and order.cancelled_at is not None
    assert await refused(demo, "cancel_order", "k-cancel-2", order_id="A-10236") == (
        "order A-10236 is already cancelled and can no longer be cancelled"
    )

    reinstated = await run(demo, "reinstate_order", "k-reinstate", **cancelled.reverse_params)

    assert reinstated.summary == DEMO_LABEL + "Reinstated order A-10236; it is packed again"
    order = await demo.get_order("A-10236")
    assert order is not None and (order.status, order.cancelled_at) == ("packed", None)
    assert await refused(demo, "reinstate_order", "k-reinstate-2", order_id="A-10236", previous_status="packed") == (
        "order A-10236 is not cancelled (it is packed)"
    )


@pytest.mark.parametrize(("order_id", "status"), [("A-10234", "shipped"), ("A-10231", "delivered")])
async def test_an_order_that_left_the_warehouse_cannot_be_cancelled(
    demo: DemoBackend, order_id: str, status: str
) -> None:
    message = await refused(demo, "cancel_order", "k1", order_id=order_id)
    assert message == f"order {order_id} has been {status} and can no longer be cancelled"
    assert await rows(demo, "SELECT status, cancelled_at FROM demo.orders WHERE id = %s", order_id) == [(status, None)]


# -- email changes ------------------------------------------------------------------------------


async def test_change_email_and_its_reverse(demo: DemoBackend) -> None:
    changed = await run(demo, "change_email", "k-mail", customer_id="cus_1002", new_email=" Omar.H@Example.NET ")

    assert (
        changed.summary
        == DEMO_LABEL + "Changed the account's email address from omar.haddad@example.com to omar.h@example.net"
    )
    assert changed.reverse_params == {"customer_id": "cus_1002", "new_email": "omar.haddad@example.com"}
    found = await demo.find_customer_by_email("omar.h@example.net")
    assert found is not None and found.id == "cus_1002"
    assert await demo.find_customer_by_email("omar.haddad@example.com") is None

    undone = await run(demo, "change_email", "k-mail-undo", **changed.reverse_params)

    assert (
        undone.summary
        == DEMO_LABEL + "Changed the account's email address from omar.h@example.net to omar.haddad@example.com"
    )
    customer = await demo.customer("cus_1002")
    assert customer is not None and customer.email == "omar.haddad@example.com"
    changes = await rows(
        demo,
        "SELECT old_email, new_email, idempotency_key, reverted_at IS NOT NULL FROM demo.email_changes "
        "WHERE customer_id = 'cus_1002' ORDER BY id",
    )
    assert changes == [
        ("omar.haddad@example.com", "omar.h@example.net", "k-mail", True),
        ("omar.h@example.net", "omar.haddad@example.com", "k-mail-undo", False),
    ]


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("not-an-address", "'not-an-address' is not a valid email address"),
        ("omar@localhost", "'omar@localhost' is not a valid email address"),
        ("two@@example.com", "'two@@example.com' is not a valid email address"),
        ("has space@example.com", "'has space@example.com' is not a valid email address"),
        ("omar@-example.com", "'omar@-example.com' is not a valid email address"),
        ("x" * 250 + "@example.com", f"'{'x' * 250}@example.com' is not a valid email address"),
        ("   ", "parameter 'new_email' must be a non-empty string"),
        ("Jane.Cooper@example.com", "that email address is already in use by another Acme account"),
        ("omar.haddad@example.com", "the account already uses omar.haddad@example.com"),
    ],
)
async def test_invalid_or_taken_emails_are_refused(demo: DemoBackend, address: str, message: str) -> None:
    assert await refused(demo, "change_email", "k1", customer_id="cus_1002", new_email=address) == message
    assert await rows(demo, "SELECT email FROM demo.customers WHERE id = 'cus_1002'") == [("omar.haddad@example.com",)]
    assert await rows(demo, "SELECT count(*) FROM demo.email_changes") == [(1,)]


# -- unknown things and tenants -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "params", "message"),
    [
        ("refund", {"order_id": "A-99999", "amount_cents": 100, "reason": "x"}, "there is no order A-99999"),
        ("cancel_order", {"order_id": "A-99999"}, "there is no order A-99999"),
        ("reinstate_order", {"order_id": "A-99999", "previous_status": "placed"}, "there is no order A-99999"),
        ("order_status", {"order_id": "A-99999"}, "there is no order A-99999"),
        ("change_email", {"customer_id": "cus_9999", "new_email": "a@example.com"}, "there is no customer cus_9999"),
    ],
)
async def test_unknown_orders_and_customers(
    demo: DemoBackend, action: str, params: dict[str, Any], message: str
) -> None:
    assert await refused(demo, action, "k1", **params) == message
    assert await demo.get_order("A-99999") is None
    assert await demo.customer("cus_9999") is None


async def test_an_org_sees_only_its_own_customers(demo: DemoBackend) -> None:
    assert await refused(demo, "order_status", "k1", org="initech", order_id="A-10223") == "there is no order A-10223"
    assert await refused(demo, "order_status", "k1", org="globex", order_id="A-10231") == "there is no order A-10231"
    message = await refused(demo, "refund", "k2", org="initech", order_id="A-10223", amount_cents=100, reason="x")
    assert message == "there is no order A-10223"
    message = await refused(
        demo, "change_email", "k3", org="initech", customer_id="cus_1010", new_email="m@globex.example"
    )
    assert message == "there is no customer cus_1010"
    own = await run(demo, "order_status", "k4", org="globex", order_id="A-10223")
    assert own.data["status"] == "delivered"
    assert await refund_rows(demo) == SEED_REFUNDS


async def test_unknown_action(demo: DemoBackend) -> None:
    changes = {"refund", "reverse_refund", "cancel_order", "reinstate_order", "change_email"}
    assert demo.actions() == {"order_status", *changes}
    with pytest.raises(UnknownAction):
        await run(demo, "delete_account", "k1", customer_id="cus_1001")


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("refund", {"order_id": "A-10231", "amount_cents": 100, "reason": "x"}),
        ("order_status", {"order_id": "A-10231"}),
    ],
)
async def test_an_unusable_database_is_a_retryable_failure(action: str, params: dict[str, Any]) -> None:
    closed: Pool = AsyncConnectionPool("dbname=nowhere", open=False)
    with pytest.raises(ExecutionFailed) as caught:
        await DemoBackend(closed).execute(ActionRequest(action, params, "k1"))
    assert caught.value.retryable is True
    assert str(caught.value).startswith("the demo back end is unavailable: ")


# -- reads --------------------------------------------------------------------------------------


async def _day(demo: DemoBackend, days_ago: int) -> date:
    [(day,)] = await rows(demo, "SELECT (now() - make_interval(days => %s))::date", days_ago)
    return day  # type: ignore[no-any-return]


def _long(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


async def test_order_status_describes_each_status(demo: DemoBackend) -> None:
    delivered = await run(demo, "order_status", "k1", order_id="A-10231")
    shipped = await run(demo, "order_status", "k1", order_id="A-10233")
    packed = await run(demo, "order_status", "k1", order_id="A-10239")
    placed = await run(demo, "order_status", "k1", order_id="A-10240")
    cancelled = await run(demo, "order_status", "k1", order_id="A-10230")

    assert delivered.summary == DEMO_LABEL + (
        f"Order A-10231 was delivered on {_long(await _day(demo, 5))} (UPS, tracking number 1Z4A72W90312345737)"
    )
    assert shipped.summary == DEMO_LABEL + (
        f"Order A-10233 shipped on {_long(await _day(demo, 4))} with USPS, tracking number 9400111899223344556707"
    )
    assert packed.summary == DEMO_LABEL + (
        f"Order A-10239 is packed and waiting for the carrier; it was placed on {_long(await _day(demo, 3))}"
    )
    assert (
        placed.summary
        == DEMO_LABEL + f"Order A-10240 was placed on {_long(await _day(demo, 1))} and is waiting to be packed"
    )
    assert cancelled.summary == DEMO_LABEL + f"Order A-10230 was cancelled on {_long(await _day(demo, 12))}"
    order = await demo.get_order("A-10231")
    assert order is not None and order.delivered_at is not None
    assert delivered.data == {
        "order_id": "A-10231",
        "status": "delivered",
        "total_cents": 16800,
        "currency": "USD",
        "carrier": "UPS",
        "tracking_number": "1Z4A72W90312345737",
        "placed_at": order.placed_at.isoformat(),
        "shipped_at": order.shipped_at.isoformat() if order.shipped_at else None,
        "delivered_at": order.delivered_at.isoformat(),
        "cancelled_at": None,
    }
    assert order.placed_at.date() == await _day(demo, 9)
    assert (delivered.reverse_params, delivered.replayed) == (None, False)
    # a read is not recorded under its key: asking again gives the current state
    assert await rows(demo, "SELECT count(*) FROM demo.executed_actions") == [(0,)]


async def test_read_helpers(demo: DemoBackend) -> None:
    marcus = await demo.customer("cus_1010")
    assert pick(marcus, "name email org tier") == ("Marcus Webb", "marcus.webb@globex.example", "globex", "business")
    jane = await demo.find_customer_by_email("  Jane.Cooper@Example.com ")
    assert pick(jane, "id tier org") == ("cus_1001", "plus", None)
    assert await demo.find_customer_by_email("nobody@example.com") is None

    orders = await demo.orders_for_customer("cus_1001")
    assert [(o.id, o.total_cents) for o in orders] == [("A-10240", 4798), ("A-10231", 16800), ("A-10220", 19900)]
    assert await demo.orders_for_customer("cus_9999") == []

    payment = "payment_method card_last4 paid_cents refunded_cents refundable_cents"
    assert pick(await demo.get_order("A-10226"), payment) == ("card", "8431", 25800, 3900, 21900)
    assert pick(await demo.get_order("A-10241"), payment) == ("klarna", None, 0, 0, 0)  # placed: not captured yet
    assert pick(await demo.get_order("A-10224"), payment) == (None, None, 0, 0, 0)  # cancelled: no payment
