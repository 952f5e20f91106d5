"""The core with an OpenAI-compatible model (real client, local fake server): cited drafts or a safe fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.core_factory import build_core
from bot.llm_openai import OpenAIChatModel
from bot.services import Services
from escalation.models import Actor, Role
from handlers.core import Core
from handlers.decisions import DecisionStore
from handlers.llm import PriceTable
from handlers.models import InboundMessage, Platform, Reply
from knowledge.ingest import IngestOptions
from tests.fakes.openai_server import FakeOpenAI, Reply as Say, Status

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
CUSTOMER = Actor("U-cust", Role.CUSTOMER)
QUESTION = "How do I reset my password?"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def core(services: Services, fake: FakeOpenAI) -> AsyncIterator[Core]:
    await services.ingestor.ingest([REPO / "examples" / "acme"], IngestOptions())
    model = OpenAIChatModel(base_url=fake.base_url, api_key="sk-test", model="gpt-test", timeout=2, max_retries=0,
                            prices=PriceTable.parse("gpt-test=1/2"))
    yield await build_core(services, language_model=model)
    await model.close()


async def ask(core: Core, services: Services, text: str = QUESTION) -> tuple[Reply, object]:
    [reply, *_] = await core.handle(InboundMessage(Platform.CLI, None, f"llm:{text[:10]}:{id(core)}", CUSTOMER, text))
    assert isinstance(reply, Reply)
    record = await DecisionStore(services.pool).get(reply.decision_id or "")
    return reply, record


async def test_a_cited_draft_is_used_with_its_citations(core: Core, services: Services, fake: FakeOpenAI) -> None:
    fake.script(Say("Use the reset link on the sign-in page to set a new password [1]."))
    reply, record = await ask(core, services)
    assert reply.text == "Use the reset link on the sign-in page to set a new password [1]."
    assert reply.citations[0].url == "https://help.acme.example/accounts/reset-your-password"
    prompt = fake.chat_requests[-1]["messages"][0]["content"]
    assert "[1] Resetting a forgotten password" in prompt and "Customer question:\nHow do I reset my password?" in prompt
    assert record.model == "openai:gpt-test" and record.prompt_version == "answer@2026-11-25.1"  # type: ignore[attr-defined]
    assert (record.prompt_tokens, record.completion_tokens) == (12, 3)  # type: ignore[attr-defined]
    assert record.cost_usd == pytest.approx(12 / 1e6 * 1 + 3 / 1e6 * 2)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "script",
    [
        Say("You can reset it from the app."),  # cites nothing
        Say("See the reset page [7]."),  # cites a passage that was not retrieved
        Status(500),
        Say(None, tool_calls=(("refund", '{"amount_cents": 500000}'),)),  # a tool nobody offered
    ],
)
async def test_a_draft_that_cannot_be_trusted_falls_back_to_quoting(
    core: Core, services: Services, fake: FakeOpenAI, script: object
) -> None:
    fake.script(script)  # type: ignore[arg-type]
    reply, record = await ask(core, services)
    assert reply.text.startswith("Here is what our help centre says:")
    assert reply.citations
    assert any("model draft not used" in note for note in record.notes)  # type: ignore[attr-defined]


async def test_not_found_says_it_is_not_sure(core: Core, services: Services, fake: FakeOpenAI) -> None:
    fake.script(Say("NOT_FOUND"))
    reply, record = await ask(core, services)
    assert reply.text.startswith("I'm not sure about this one")
    assert record.outcome == "not_sure"  # type: ignore[attr-defined]
