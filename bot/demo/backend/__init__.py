"""The sample company's back end (Acme Gadgets): customers, orders, payments and refunds in the `demo` schema
(migration 0004, seeded from `seed.sql`), the `Executor` that acts on them, and the look-ups the workflows
make. It is the demo's company, not escalation logic: the composition root registers it only with
DEMO_BACKEND on, and otherwise only the demo player and scenario runs use it (tests/test_import_boundaries.py).
"""

from bot.demo.backend.executor import DEMO_LABEL, DemoBackend
from bot.demo.backend.queries import Customer, DemoQueries, Order

__all__ = ["DEMO_LABEL", "Customer", "DemoBackend", "DemoQueries", "Order"]
