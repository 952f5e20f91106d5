"""One small demo run for a test module: the sample knowledge base and two weeks of scripted conversations."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.demo.backend import DemoBackend
from bot.demo.run import DemoOptions, DemoReport, play_demo
from bot.services import Services
from knowledge.ingest import IngestOptions

REPO = Path(__file__).resolve().parents[2]
SMALL = DemoOptions(weeks=2, per_week=18, seed=7)


async def seed_demo(services: Services, *, now: datetime, options: DemoOptions = SMALL) -> DemoReport:
    await services.ingestor.ingest([REPO / "examples" / "acme"], IngestOptions())
    async with services.pool.connection() as conn:  # stages and switches another module left would change outcomes
        await conn.execute("TRUNCATE autonomy_stages, policy_switches")
    await DemoBackend(services.pool).reset_demo_data()  # refunds other modules made would leave less to refund
    return await play_demo(services, options, now=now)
