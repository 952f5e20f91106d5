"""Who the playground can play: the sample company's customers (the demo back end) grouped by org, or one
customer per org of the knowledge base when there is no demo data."""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.store import Pool

CONSUMER = ""  # the org choice of a consumer without a business org
DEFAULT_CUSTOMER = "customer"


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    org: str | None


async def playable_customers(pool: Pool, *, demo: bool) -> list[Customer]:
    async with pool.connection() as conn:
        if demo:
            cur = await conn.execute("SELECT id, name, org FROM demo.customers ORDER BY org NULLS FIRST, id")
            found = [Customer(str(row[0]), str(row[1]), row[2]) for row in await cur.fetchall()]
            if found:
                return found
        cur = await conn.execute("SELECT DISTINCT org FROM kb_documents WHERE org IS NOT NULL ORDER BY org")
        orgs = [str(row[0]) for row in await cur.fetchall()]
    return [Customer(DEFAULT_CUSTOMER, "A customer", None)] + [
        Customer(DEFAULT_CUSTOMER, f"A customer of {org}", org) for org in orgs
    ]
