"""The Acme Gadgets demo back end: an `Executor` over the `demo` schema (all its SQL but the reads).

Every state-changing action is exactly-once: one transaction first claims the idempotency key
in `demo.executed_actions`, then changes the data and stores the result beside the claim. A
replay finds the claim and returns the stored result; a crash or a refusal rolls both back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from importlib import resources
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from bot.demo.backend.queries import DemoQueries, Order, money
from escalation.errors import ExecutionFailed, UnknownAction
from escalation.executors import ActionRequest, ActionResult
from knowledge.store import Pool

log = logging.getLogger(__name__)
DEMO_LABEL = "(demo) "  # opens every summary the demo back end returns

Conn = AsyncConnection[Any]
Stored = dict[str, Any]  # {"summary", "data", "reverse_params"}: what a replay returns

_MUTABLE_TABLES = "demo.executed_actions, demo.email_changes, demo.refunds, demo.payments, demo.orders, demo.customers"
_CANCELLABLE = ("placed", "packed")
# The WHATWG (HTML form) e-mail grammar, lower-cased: addresses are stored lower-case.
_EMAIL = re.compile(
    r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
)


def _refused(message: str) -> ExecutionFailed:
    return ExecutionFailed(message, retryable=False)


def _unavailable(exc: psycopg.OperationalError) -> ExecutionFailed:
    # connection lost, pool timeout, serialisation failure, deadlock: trying again may work
    return ExecutionFailed(f"the demo back end is unavailable: {exc}", retryable=True)


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _refused(f"parameter '{name}' must be a non-empty string")
    return value.strip()


def _integer(params: dict[str, Any], name: str) -> int:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refused(f"parameter '{name}' must be an integer")
    return value


def _day(order: Order, field: str) -> str:
    when = getattr(order, field)
    return f"{when.day} {when:%B %Y}"


def _order_status_summary(order: Order) -> str:
    parcel = f"{order.carrier}, tracking number {order.tracking_number}"
    match order.status:
        case "placed":
            return f"Order {order.id} was placed on {_day(order, 'placed_at')} and is waiting to be packed"
        case "packed":
            return (
                f"Order {order.id} is packed and waiting for the carrier; it was placed on {_day(order, 'placed_at')}"
            )
        case "shipped":
            return f"Order {order.id} shipped on {_day(order, 'shipped_at')} with {parcel}"
        case "delivered":
            return f"Order {order.id} was delivered on {_day(order, 'delivered_at')} ({parcel})"
        case _ if order.cancelled_at is None:
            return f"Order {order.id} was cancelled"
        case _:
            return f"Order {order.id} was cancelled on {_day(order, 'cancelled_at')}"


def _order_data(order: Order) -> dict[str, Any]:
    def iso(field: str) -> str | None:
        when = getattr(order, field)
        return None if when is None else str(when.isoformat())

    return {
        "order_id": order.id,
        "status": order.status,
        "total_cents": order.total_cents,
        "currency": order.currency,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        **{field: iso(field) for field in ("placed_at", "shipped_at", "delivered_at", "cancelled_at")},
    }


def _destination(method: str, card_last4: str | None) -> str:
    return {"card": f"the card ending {card_last4}", "paypal": "the PayPal account", "klarna": "the Klarna plan"}[
        method
    ]


class DemoBackend(DemoQueries):
    """Refunds, cancellations and e-mail changes on the demo data, each exactly once per key.

    A request with an `org` may only touch that org's customers and their orders; anything else
    is reported as not existing, so one tenant cannot probe another's ids.
    """

    def __init__(self, pool: Pool) -> None:
        super().__init__(pool)
        self._handlers: dict[str, Callable[[Conn, ActionRequest], Awaitable[Stored]]] = {
            "refund": self._refund,
            "reverse_refund": self._reverse_refund,
            "cancel_order": self._cancel_order,
            "reinstate_order": self._reinstate_order,
            "change_email": self._change_email,
        }

    def actions(self) -> frozenset[str]:
        return frozenset({"order_status", *self._handlers})

    # -- demo data -------------------------------------------------------------------------

    async def ensure_seeded(self) -> bool:
        """Load the seed into an empty demo schema; True if it did. Safe with several replicas."""
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("LOCK TABLE demo.customers IN EXCLUSIVE MODE")
            if await (await conn.execute("SELECT 1 FROM demo.customers LIMIT 1")).fetchone():
                return False
            await conn.execute(_seed_sql())
        log.info("seeded the demo back end")
        return True

    async def reset_demo_data(self) -> None:
        """Forget every change and every executed action: the demo data as seeded, with fresh times."""
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(f"TRUNCATE {_MUTABLE_TABLES} RESTART IDENTITY")
            await conn.execute(_seed_sql())

    async def forget_refunds(self, idempotency_keys: list[str]) -> int:
        """Remove refunds (and their reversals) run under these keys, as if they never ran; the number removed.

        Only for refunds: they add rows and change nothing else (a cancellation or an e-mail change would have
        to be undone instead). `supportbot demo --clear` uses it for the refunds its scripted conversations ran.
        """
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT action FROM demo.executed_actions WHERE idempotency_key = ANY(%s) "
                "AND action NOT IN ('refund', 'reverse_refund')",
                (idempotency_keys,),
            )
            if other := [row[0] for row in await cur.fetchall()]:
                raise _refused(f"only refunds can be forgotten, not {', '.join(sorted(set(other)))}")
            cur = await conn.execute("DELETE FROM demo.refunds WHERE idempotency_key = ANY(%s)", (idempotency_keys,))
            removed = cur.rowcount
            await conn.execute("DELETE FROM demo.executed_actions WHERE idempotency_key = ANY(%s)", (idempotency_keys,))
        return removed

    # -- the executor ----------------------------------------------------------------------

    name = "demo"

    async def execute(self, request: ActionRequest) -> ActionResult:
        """Every result says it is a demo, so no customer, card or audit row mistakes it for a real one."""
        result = await self._run(request)
        return replace(result, summary=f"{DEMO_LABEL}{result.summary}")

    async def _run(self, request: ActionRequest) -> ActionResult:
        if request.action == "order_status":
            try:
                return await self._order_status(request)
            except psycopg.OperationalError as exc:
                raise _unavailable(exc) from exc
        handler = self._handlers.get(request.action)
        if handler is None:
            raise UnknownAction(f"the demo back end has no action '{request.action}'")
        try:
            async with self._pool.connection() as conn, conn.transaction():
                claim = await conn.execute(
                    "INSERT INTO demo.executed_actions (idempotency_key, action, params, result) "
                    "VALUES (%s, %s, %s, '{}') ON CONFLICT DO NOTHING RETURNING true",
                    (request.idempotency_key, request.action, Jsonb(request.params)),
                )
                if await claim.fetchone() is None:
                    return await self._replay(conn, request)
                stored = await handler(conn, request)
                await conn.execute(
                    "UPDATE demo.executed_actions SET result = %s WHERE idempotency_key = %s",
                    (Jsonb(stored), request.idempotency_key),
                )
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name == "customers_email_key":
                raise _refused("that email address is already in use by another Acme account") from None
            raise _refused(f"the action conflicts with existing data ({exc.diag.constraint_name})") from None
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from exc
        log.info("executed %s with key %s", request.action, request.idempotency_key)
        return ActionResult(summary=stored["summary"], data=stored["data"], reverse_params=stored["reverse_params"])

    async def _replay(self, conn: Conn, request: ActionRequest) -> ActionResult:
        cur = await conn.execute(
            "SELECT action, params = %s, result FROM demo.executed_actions WHERE idempotency_key = %s",
            (Jsonb(request.params), request.idempotency_key),
        )
        row = await cur.fetchone()
        if row is None:  # the claim that conflicted was deleted since (a demo reset)
            raise ExecutionFailed(f"idempotency key {request.idempotency_key} vanished; try again", retryable=True)
        action, same_params, stored = row
        if action != request.action or not same_params:
            raise _refused(
                f"idempotency key {request.idempotency_key} was already used for a different request ({action})"
            )
        return ActionResult(
            summary=stored["summary"], data=stored["data"], reverse_params=stored["reverse_params"], replayed=True
        )

    # -- read-only -------------------------------------------------------------------------

    async def _order_status(self, request: ActionRequest) -> ActionResult:
        """Not recorded under its key: a read has no effect to repeat, and a replay should be fresh."""
        order_id = _text(request.params, "order_id")
        order = await self.get_order(order_id)
        if order is None or not await self._visible(order.customer_id, request.org):
            raise _refused(f"there is no order {order_id}")
        return ActionResult(summary=_order_status_summary(order), data=_order_data(order))

    async def _visible(self, customer_id: str, org: str | None) -> bool:
        if org is None:
            return True
        found = await self.customer(customer_id)
        return found is not None and found.org == org

    # -- actions ---------------------------------------------------------------------------

    async def _lock_order(self, conn: Conn, order_id: str, org: str | None) -> tuple[str, str]:
        """Lock the order row (serialising every action on it); return (status, currency)."""
        cur = await conn.execute(
            "SELECT o.status, o.currency, c.org FROM demo.orders o JOIN demo.customers c ON c.id = o.customer_id "
            "WHERE o.id = %s FOR UPDATE OF o",
            (order_id,),
        )
        row = await cur.fetchone()
        if row is None or (org is not None and row[2] != org):
            raise _refused(f"there is no order {order_id}")
        return row[0], row[1]

    async def _refund(self, conn: Conn, request: ActionRequest) -> Stored:
        order_id = _text(request.params, "order_id")
        amount = _integer(request.params, "amount_cents")
        reason = _text(request.params, "reason")
        if amount <= 0:
            raise _refused("a refund must be a positive number of cents")
        status, currency = await self._lock_order(conn, order_id, request.org)
        # A new statement after the lock: it sees refunds committed by whoever held the lock before.
        cur = await conn.execute(
            "SELECT p.method, p.card_last4, p.amount_cents, p.captured_at IS NOT NULL, "
            "(SELECT coalesce(sum(amount_cents), 0)::int FROM demo.refunds"
            " WHERE order_id = %(o)s AND status = 'issued') "
            "FROM demo.payments p WHERE p.order_id = %(o)s",
            {"o": order_id},
        )
        payment = await cur.fetchone()
        if payment is None or not payment[3]:
            raise _refused(f"order {order_id} has not been charged (it is {status}), so there is nothing to refund")
        method, last4, paid, _, refunded = payment
        left = paid - refunded
        if amount > left:
            if left == 0:
                raise _refused(f"order {order_id} has already been refunded in full ({money(paid, currency)})")
            raise _refused(
                f"cannot refund {money(amount, currency)} for order {order_id}: only {money(left, currency)} "
                f"of the {money(paid, currency)} paid is left to refund"
            )
        cur = await conn.execute(
            "INSERT INTO demo.refunds (order_id, amount_cents, reason, idempotency_key) VALUES (%s, %s, %s, %s) "
            "RETURNING id",
            (order_id, amount, reason, request.idempotency_key),
        )
        refund_id = (await cur.fetchone() or (0,))[0]  # INSERT … RETURNING always returns the row
        return {
            "summary": f"Refunded {money(amount, currency)} to {_destination(method, last4)} for order {order_id}",
            "data": {
                "refund_id": refund_id,
                "order_id": order_id,
                "amount_cents": amount,
                "currency": currency,
                "method": method,
                "card_last4": last4,
                "refundable_cents_left": left - amount,
            },
            "reverse_params": {"refund_id": refund_id},
        }

    async def _reverse_refund(self, conn: Conn, request: ActionRequest) -> Stored:
        refund_id = _integer(request.params, "refund_id")
        cur = await conn.execute(
            "SELECT r.order_id, r.amount_cents, r.status, o.currency, c.org FROM demo.refunds r "
            "JOIN demo.orders o ON o.id = r.order_id JOIN demo.customers c ON c.id = o.customer_id "
            "WHERE r.id = %s FOR UPDATE OF r",
            (refund_id,),
        )
        row = await cur.fetchone()
        if row is None or (request.org is not None and row[4] != request.org):
            raise _refused(f"there is no refund {refund_id}")
        order_id, amount, status, currency, _ = row
        if status == "reversed":
            raise _refused(f"refund {refund_id} for order {order_id} was already reversed")
        await conn.execute(
            "UPDATE demo.refunds SET status = 'reversed', reversed_at = now() WHERE id = %s", (refund_id,)
        )
        return {
            "summary": f"Reversed the {money(amount, currency)} refund for order {order_id}",
            "data": {"refund_id": refund_id, "order_id": order_id, "amount_cents": amount, "currency": currency},
            "reverse_params": None,
        }

    async def _cancel_order(self, conn: Conn, request: ActionRequest) -> Stored:
        order_id = _text(request.params, "order_id")
        status, _ = await self._lock_order(conn, order_id, request.org)
        if status not in _CANCELLABLE:
            why = "is already cancelled" if status == "cancelled" else f"has been {status}"
            raise _refused(f"order {order_id} {why} and can no longer be cancelled")
        await conn.execute(
            "UPDATE demo.orders SET status = 'cancelled', cancelled_at = now() WHERE id = %s", (order_id,)
        )
        cur = await conn.execute(
            "SELECT 1 FROM demo.payments WHERE order_id = %s AND captured_at IS NOT NULL", (order_id,)
        )
        charged = await cur.fetchone() is not None
        return {
            "summary": f"Cancelled order {order_id}" + ("" if charged else "; nothing was charged for it"),
            "data": {"order_id": order_id, "status": "cancelled", "previous_status": status},
            "reverse_params": {"order_id": order_id, "previous_status": status},
        }

    async def _reinstate_order(self, conn: Conn, request: ActionRequest) -> Stored:
        order_id = _text(request.params, "order_id")
        previous = _text(request.params, "previous_status")
        if previous not in _CANCELLABLE:
            raise _refused(f"an order can only be reinstated as placed or packed, not {previous}")
        status, _ = await self._lock_order(conn, order_id, request.org)
        if status != "cancelled":
            raise _refused(f"order {order_id} is not cancelled (it is {status})")
        await conn.execute(
            "UPDATE demo.orders SET status = %s, cancelled_at = NULL WHERE id = %s", (previous, order_id)
        )
        return {
            "summary": f"Reinstated order {order_id}; it is {previous} again",
            "data": {"order_id": order_id, "status": previous},
            "reverse_params": {"order_id": order_id},
        }

    async def _change_email(self, conn: Conn, request: ActionRequest) -> Stored:
        customer_id = _text(request.params, "customer_id")
        new = _text(request.params, "new_email").lower()
        if len(new) > 254 or not _EMAIL.fullmatch(new):
            raise _refused(f"'{new}' is not a valid email address")
        cur = await conn.execute("SELECT email, org FROM demo.customers WHERE id = %s FOR UPDATE", (customer_id,))
        row = await cur.fetchone()
        if row is None or (request.org is not None and row[1] != request.org):
            raise _refused(f"there is no customer {customer_id}")
        old = row[0]
        if new == old:
            raise _refused(f"the account already uses {new}")
        if await (await conn.execute("SELECT 1 FROM demo.customers WHERE email = %s", (new,))).fetchone():
            raise _refused("that email address is already in use by another Acme account")
        await conn.execute("UPDATE demo.customers SET email = %s WHERE id = %s", (new, customer_id))
        await conn.execute(
            "INSERT INTO demo.email_changes (customer_id, old_email, new_email, idempotency_key) "
            "VALUES (%s, %s, %s, %s)",
            (customer_id, old, new, request.idempotency_key),
        )
        # Changing back to the address a change replaced undoes that change: mark it reverted.
        await conn.execute(
            "UPDATE demo.email_changes SET reverted_at = now() WHERE id = ("
            " SELECT id FROM demo.email_changes WHERE customer_id = %s AND old_email = %s AND new_email = %s"
            " AND reverted_at IS NULL ORDER BY id DESC LIMIT 1)",
            (customer_id, new, old),
        )
        return {
            "summary": f"Changed the account's email address from {old} to {new}",
            "data": {"customer_id": customer_id, "old_email": old, "new_email": new},
            # The rollback is change_email itself, so these are its params.
            "reverse_params": {"customer_id": customer_id, "new_email": old},
        }


def _seed_sql() -> bytes:
    # bytes: the seed is several statements from a file, not a literal query with parameters
    return (resources.files("bot.demo.backend") / "seed.sql").read_bytes()
