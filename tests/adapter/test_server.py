"""The HTTP server `supportbot run` serves, through the real aiohttp app (health: test_health.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.server import build_app
from bot.services import Services
from bot.storage import open_redis
from knowledge.ingest import IngestOptions
from tests.integration.helpers import write_doc

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(kb: Services, tmp_path: Path) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    write_doc(tmp_path, "returns.md", "# Returns\n\n## Window\n\nReturn any item within 30 days of delivery.\n")
    write_doc(tmp_path, "globex.md", "# Globex returns\n\nGlobex may return items within 60 days.\n", org="globex")
    await kb.ingestor.ingest([tmp_path], IngestOptions())
    async with open_redis(kb.settings) as redis, TestClient(TestServer(build_app(kb, redis))) as test_client:
        yield test_client


async def test_search_api_answers_with_citations_scoped_to_the_org(client: TestClient) -> None:  # type: ignore[type-arg]
    public = await (await client.get("/api/search", params={"q": "how long can I return items"})).json()
    assert [r["doc_key"] for r in public["results"]] == ["returns"]
    assert public["results"][0]["heading_path"] == ["Window"]
    assert public["results"][0]["freshness"] == "fresh"
    globex = await (
        await client.get("/api/search", params={"q": "how long can I return items", "org": "Globex"})
    ).json()
    assert {r["doc_key"] for r in globex["results"]} == {"returns", "globex"}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({}, "query parameter q is required"),
        ({"q": "   "}, "query parameter q is required"),
        ({"q": "x" * 2001}, "q is longer than 2000 characters"),
        ({"q": "refund", "mode": "psychic"}, "mode must be hybrid, dense or fts"),
    ],
)
async def test_search_api_rejects_bad_input(client: TestClient, params: dict[str, str], error: str) -> None:  # type: ignore[type-arg]
    response = await client.get("/api/search", params=params)
    assert response.status == 400
    assert await response.json() == {"error": error}
