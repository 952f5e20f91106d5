"""Follow-ups with a model (real client, local fake server): the model rewrites the message as a standalone
question, which is searched and recorded; a rewrite that cannot be used falls back to the thread's words."""

from __future__ import annotations

import pytest

from bot.services import Services
from escalation.models import Actor, Role
from handlers.core import Core
from handlers.decisions import DecisionRecord, DecisionStore
from handlers.models import InboundMessage, Platform, Reply
from handlers.prompts import load_prompt
from tests.adapter.model_core import model_core_fixtures
from tests.fakes.openai_server import FakeOpenAI, Status
from tests.fakes.openai_server import Reply as Say

pytestmark = pytest.mark.integration
CUSTOMER = Actor("U-cust", Role.CUSTOMER)
ROUTE_TO_ANSWER = Say(None, tool_calls=(("answer_question", "{}"),))
FIRST, FOLLOW_UP = "How long do refunds to PayPal take?", "What about Klarna?"


fake, core = model_core_fixtures(seconds_per_call=2)


@pytest.fixture(autouse=True)
def fresh(fake: FakeOpenAI) -> None:
    fake.reset()


async def say(core: Core, services: Services, text: str, *, thread: str) -> tuple[Reply, DecisionRecord]:
    [reply, *_] = await core.handle(InboundMessage(Platform.CLI, None, thread, CUSTOMER, text))
    assert isinstance(reply, Reply)
    record = await DecisionStore(services.pool).get(reply.decision_id or "")
    assert record is not None
    return reply, record


async def test_the_model_rewrites_a_follow_up_and_that_is_searched(
    core: Core, services: Services, fake: FakeOpenAI
) -> None:
    # routing, then a draft that cannot be used (the offline answer stands), for each turn; the rewrite between
    fake.script(ROUTE_TO_ANSWER, Status(500), ROUTE_TO_ANSWER, Say("How long do refunds to Klarna take?"), Status(500))
    await say(core, services, FIRST, thread="rewrite:1")
    reply, record = await say(core, services, FOLLOW_UP, thread="rewrite:1")

    rewrite_prompt = fake.chat_requests[3]["messages"][0]["content"]
    assert f"Earlier question:\n{FIRST}\n" in rewrite_prompt and f"Latest message:\n{FOLLOW_UP}" in rewrite_prompt
    assert record.search_query == "How long do refunds to Klarna take?"
    [rewriting] = [call for call in record.model_calls if call["step"] == "rewriting"]
    assert rewriting["outcome"] == "ok" and rewriting["prompt_version"] == load_prompt("rewrite").label
    assert "3–5 business days" in reply.text and "Klarna" in reply.text
    assert f"follow-up: searched rewritten by gpt-test ({load_prompt('rewrite').label})" in record.notes


async def test_a_standalone_question_is_not_rewritten(core: Core, services: Services, fake: FakeOpenAI) -> None:
    fake.script(ROUTE_TO_ANSWER, Status(500))
    _, record = await say(core, services, FIRST, thread="rewrite:2")
    assert len(fake.chat_requests) == 2  # routing and drafting: no rewrite call for a question that stands alone
    assert record.search_query == FIRST and not [c for c in record.model_calls if c["step"] == "rewriting"]


@pytest.mark.parametrize(
    ("rewrite", "why"),
    [
        (Say("How long do refunds to Klarna", finish_reason="length"), "cut off (finish_reason=length)"),
        (Say("   "), "empty"),
        (Say("Klarna " * 80), "longer than the thread it rewrites"),
        (Status(500), None),
    ],
)
async def test_a_rewrite_that_cannot_be_used_falls_back_to_the_thread(
    core: Core, services: Services, fake: FakeOpenAI, rewrite: object, why: str | None
) -> None:
    fake.script(ROUTE_TO_ANSWER, Status(500), ROUTE_TO_ANSWER, rewrite, Status(500))  # type: ignore[arg-type]
    thread = f"rewrite:{id(rewrite)}"
    await say(core, services, FIRST, thread=thread)
    reply, record = await say(core, services, FOLLOW_UP, thread=thread)
    assert record.search_query == f"{FIRST} {FOLLOW_UP}"
    [rewriting] = [call for call in record.model_calls if call["step"] == "rewriting"]
    assert rewriting["outcome"] == ("rejected" if why else "unavailable")
    if why:
        assert any(note.startswith("query rewrite not used") and why in note for note in record.notes)
    assert "3–5 business days" in reply.text
