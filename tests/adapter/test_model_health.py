"""`/healthz` says how the model endpoint is doing: ok, failing, or circuit open since when; how many failures
in a row; whether the model calls tools. Real app, real turns through the real core, a real (fake) server."""

from __future__ import annotations

import dataclasses
import itertools
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.core_factory import build_core, start_language_model
from bot.providers.openai.chat import OpenAIChatModel
from bot.server import HEALTH_TIMEOUT, build_app
from bot.services import Services
from bot.storage import open_redis
from escalation.models import Actor, Role
from handlers.core import Core
from handlers.models import InboundMessage, Platform
from knowledge.ingest import IngestOptions
from tests.fakes.openai_server import FakeOpenAI, Reply

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
REPO = Path(__file__).resolve().parents[2]
CUSTOMER = Actor("U-cust", Role.CUSTOMER)
_turns = itertools.count(1)
MakeCore = Callable[..., Any]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
async def redis(services: Services) -> AsyncIterator[aioredis.Redis]:
    async with open_redis(services.settings) as client:
        yield client


@pytest.fixture
async def make_core(services: Services, fake: FakeOpenAI) -> AsyncIterator[MakeCore]:
    await services.ingestor.ingest([REPO / "examples" / "acme"], IngestOptions())
    async with services.pool.connection() as conn:
        await conn.execute("TRUNCATE inbound_events CASCADE")
    opened: list[OpenAIChatModel] = []

    async def make(base_url: str, **settings: Any) -> Core:
        config = services.settings.model_copy(
            update={
                "llm_base_url": base_url,
                "llm_api_key": SecretStr("sk-test"),
                "llm_model": "gpt-test",
                "llm_max_retries": 0,
                **settings,
            }
        )
        model = await start_language_model(config)  # with the start-up probe, as `supportbot run` does
        assert model is not None
        opened.append(model)
        return await build_core(dataclasses.replace(services, settings=config), language_model=model)

    yield make
    for model in opened:
        await model.close()


async def turn(core: Core) -> None:
    await core.handle(
        InboundMessage(Platform.CLI, None, f"health:{next(_turns)}", CUSTOMER, "How do I reset my password?")
    )


async def health(services: Services, redis: aioredis.Redis, core: Core) -> tuple[int, dict[str, Any]]:
    async with TestClient(TestServer(build_app(services, redis, core=core))) as client:
        response = await client.get("/healthz", timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT + 3))
        return response.status, await response.json()


def refused_port() -> str:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{closed.getsockname()[1]}/v1"


async def test_a_healthy_model_that_calls_tools(
    services: Services, redis: aioredis.Redis, make_core: MakeCore, fake: FakeOpenAI
) -> None:
    fake.reset()
    fake.script(Reply(None, tool_calls=(("ping", "{}"),)))  # the start-up probe's answer
    core = await make_core(fake.base_url)
    await turn(core)
    status, body = await health(services, redis, core)
    assert status == 200 and body["status"] == "ok" and body["problems"] == []
    model = body["checks"]["model"]
    assert model["status"] == "ok" and model["consecutive_failures"] == 0 and model["seen_in"] == "recent turns"
    assert model["tools_supported"] is True and model["tools"] == "it called the ping tool when asked to"


async def test_an_endpoint_that_keeps_failing_opens_the_circuit_and_degrades_health(
    services: Services, redis: aioredis.Redis, make_core: MakeCore
) -> None:
    core = await make_core(refused_port(), llm_circuit_failures=3, llm_circuit_cooldown=600.0)
    status, body = await health(services, redis, core)
    # only the start-up probe so far, and it failed: this process's own view
    model = body["checks"]["model"]
    assert model["status"] == "failing" and model["consecutive_failures"] == 1 and model["seen_in"] == "this process"
    assert model["tools_supported"] is None and "could not connect" in model["tools"]
    for _ in range(3):
        await turn(core)
    status, body = await health(services, redis, core)
    assert status == 200 and body["ok"] is True and body["status"] == "degraded"  # customers are still answered
    model = body["checks"]["model"]
    assert model["status"].startswith("circuit open since 20") and model["seen_in"] == "recent turns"
    assert model["consecutive_failures"] == 2  # the first turn's two calls (turns record no probe); then skipped
    assert "could not connect to the LLM endpoint" in model["last_error"]
    [problem] = [line for line in body["problems"] if line.startswith("model:")]
    assert "circuit open since" in problem and "turns answer without it" in problem


async def test_no_model_no_model_check(services: Services, redis: aioredis.Redis) -> None:
    status, body = await health(services, redis, await build_core(services))
    assert status == 200 and "model" not in body["checks"]
