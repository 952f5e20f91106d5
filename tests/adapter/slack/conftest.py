from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from procrastinate import App
from pydantic import SecretStr

from bot.channels import ChannelStore
from bot.core_factory import build_core
from bot.queue.runtime import mount_worker
from bot.server import build_app
from bot.services import Services
from bot.settings import Settings
from bot.slack.app import SlackAdapter
from bot.storage import open_redis
from handlers.decisions import DecisionStore
from handlers.explain.chain import DecisionExplainer
from handlers.llm import LanguageModel
from knowledge.ingest import IngestOptions
from tests.adapter.slack.harness import SECRET, STAFF_CHANNEL, Rig
from tests.conftest import empty_queue, own_queue
from tests.fakes.slack_api import FakeSlack

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="package")
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(usergroups={"S0LEADS": ["U0LEAD"], "S0BILL": ["U0BILL"]}) as server:
        yield server


def slack_settings(settings: Settings, fake: FakeSlack, **extra: object) -> Settings:
    return settings.model_copy(
        update={
            "slack_bot_token": SecretStr("xoxb-test"),
            "slack_signing_secret": SecretStr(SECRET),
            "slack_api_base_url": fake.base_url,
            "slack_staff_channel": STAFF_CHANNEL,
            "slack_groups": "support-leads=S0LEADS,billing=S0BILL",
            **extra,
        }
    )


@pytest.fixture(scope="package")
async def prepared(services: Services) -> Services:
    await services.ingestor.ingest([REPO / "examples" / "acme"], IngestOptions())
    async with services.pool.connection() as conn:
        await conn.execute(
            "TRUNCATE approvals, handoffs, autonomy_stages, policy_switches, channel_bindings, seen_events, "
            "chat_cards, outbox_deliveries, outbox CASCADE"
        )
    channels = ChannelStore(services.pool)
    await channels.bind("slack", "C0ACME", "acme", bound_by="test")
    await channels.bind("slack", "C0GLOBEX", "globex", bound_by="test")
    await channels.bind("slack", "T0GLOBEX", "globex", bound_by="test")
    return services


@asynccontextmanager
async def serve_slack(
    services: Services, config: Settings, fake: FakeSlack, queue: App, *, language_model: LanguageModel | None = None
) -> AsyncIterator[Rig]:
    """The real aiohttp app with the Slack adapter mounted, its Web API calls going to `fake`, and a turn
    worker answering what it stores (with `language_model`, configured by `config`'s LLM_* settings)."""
    await empty_queue(services)
    config, worker = own_queue(config)
    core = await build_core(dataclasses.replace(services, settings=config), language_model=language_model)
    async with open_redis(config) as redis:
        adapter = SlackAdapter(
            settings=config,
            core=core,
            escalation=services.escalation,
            pool=services.pool,
            redis=redis,
            explain=DecisionExplainer(DecisionStore(services.pool), services.escalation).explain,
            drain_every=3600,  # tests drain by hand
        )
        app = build_app(services, redis, slack=adapter)
        mount_worker(app, services, core, queue, config=worker)
        async with TestClient(TestServer(app)) as client:
            yield Rig(client, fake, adapter, services.pool)


@pytest.fixture(scope="package")
async def rig(prepared: Services, settings: Settings, fake: FakeSlack, queue: App) -> AsyncIterator[Rig]:
    async with serve_slack(prepared, slack_settings(settings, fake), fake, queue) as served:
        yield served
