"""Read side of the Acme Gadgets demo back end: customers and orders for workflows (its SQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from knowledge.store import Pool

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(cents: int, currency: str = "USD") -> str:
    """`money(4000)` is '$40.00'; integer arithmetic, so no float rounding."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    symbol = _SYMBOLS.get(currency)
    if symbol is None:
        return f"{sign}{whole:,}.{part:02d} {currency}"
    return f"{sign}{symbol}{whole:,}.{part:02d}"


@dataclass(frozen=True)
class Customer:
    id: str
    org: str | None  # the business tenant, e.g. "globex"; None for consumers
    name: str
    email: str
    tier: str  # standard | plus | business
    created_at: datetime


@dataclass(frozen=True)
class Order:
    id: str
    customer_id: str
    status: str  # placed | packed | shipped | delivered | cancelled
    total_cents: int
    currency: str
    placed_at: datetime
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    tracking_number: str | None
    carrier: str | None
    payment_method: str | None  # card | paypal | klarna; None when there is no payment
    card_last4: str | None
    paid_cents: int  # captured; 0 until the order ships
    refunded_cents: int  # issued refunds, not counting reversed ones

    @property
    def refundable_cents(self) -> int:
        return max(self.paid_cents - self.refunded_cents, 0)


_CUSTOMER_COLUMNS = "id, org, name, email, tier, created_at"

_ORDER_SELECT = """
SELECT o.id, o.customer_id, o.status, o.total_cents, o.currency, o.placed_at, o.shipped_at, o.delivered_at,
       o.cancelled_at, o.tracking_number, o.carrier, p.method, p.card_last4,
       CASE WHEN p.captured_at IS NULL THEN 0 ELSE p.amount_cents END,
       (SELECT coalesce(sum(r.amount_cents), 0) FROM demo.refunds r WHERE r.order_id = o.id AND r.status = 'issued')
FROM demo.orders o LEFT JOIN demo.payments p ON p.order_id = o.id
"""


def _customer(row: tuple[Any, ...]) -> Customer:
    return Customer(id=row[0], org=row[1], name=row[2], email=row[3], tier=row[4], created_at=row[5])


def _order(row: tuple[Any, ...]) -> Order:
    return Order(
        id=row[0],
        customer_id=row[1],
        status=row[2],
        total_cents=row[3],
        currency=row[4],
        placed_at=row[5],
        shipped_at=row[6],
        delivered_at=row[7],
        cancelled_at=row[8],
        tracking_number=row[9],
        carrier=row[10],
        payment_method=row[11],
        card_last4=row[12],
        paid_cents=row[13],
        refunded_cents=int(row[14]),  # sum() of integers is a numeric
    )


class DemoQueries:
    """Look-ups the workflows make before they propose an action."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def customer(self, customer_id: str) -> Customer | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(f"SELECT {_CUSTOMER_COLUMNS} FROM demo.customers WHERE id = %s", (customer_id,))
            row = await cur.fetchone()
        return _customer(row) if row else None

    async def find_customer_by_email(self, email: str) -> Customer | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_CUSTOMER_COLUMNS} FROM demo.customers WHERE email = lower(%s)", (email.strip(),)
            )
            row = await cur.fetchone()
        return _customer(row) if row else None

    async def get_order(self, order_id: str) -> Order | None:
        async with self._pool.connection() as conn:
            row = await (await conn.execute(_ORDER_SELECT + "WHERE o.id = %s", (order_id.strip(),))).fetchone()
        return _order(row) if row else None

    async def orders_for_customer(self, customer_id: str) -> list[Order]:
        """Newest first."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                _ORDER_SELECT + "WHERE o.customer_id = %s ORDER BY o.placed_at DESC, o.id DESC", (customer_id,)
            )
            rows = await cur.fetchall()
        return [_order(row) for row in rows]

    async def issued_refunds(self, order_id: str) -> list[int]:
        """Amounts (cents) of the order's refunds that stand now (not reversed), oldest first."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT amount_cents FROM demo.refunds WHERE order_id = %s AND status = 'issued' ORDER BY id",
                (order_id.strip(),),
            )
            rows = await cur.fetchall()
        return [int(row[0]) for row in rows]
