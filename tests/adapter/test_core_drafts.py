"""Drafts checked for what they are (issue 14, failures 1 and 6): the real core, the real OpenAI client and
the local fake server. A draft that echoes the prompt, was cut off, runs too long or states a number its
passages do not is kept on the decision record with the reason, and the customer gets the quoted answer."""

from __future__ import annotations

import pytest

from bot.core_factory import build_core
from bot.providers.openai.chat import OpenAIChatModel
from bot.services import Services
from escalation.models import Actor, Role
from handlers.core import Core
from handlers.core_config import CoreConfig
from handlers.decisions import DecisionRecord, DecisionStore
from handlers.draft_checks import MAX_DRAFT_CHARS
from handlers.explain.chain import DecisionExplainer
from handlers.knowledge_turns import OFFLINE_ANSWERER
from handlers.llm import PriceTable
from handlers.llm_answer import numbered_passages
from handlers.models import InboundMessage, Platform, Reply
from handlers.prompts import load_prompt
from tests.adapter.model_core import model_core_fixtures
from tests.fakes.openai_server import Echo, FakeOpenAI, Truncated
from tests.fakes.openai_server import Reply as Say

pytestmark = pytest.mark.integration
CUSTOMER = Actor("U-cust", Role.CUSTOMER)
PASSWORD = "How do I reset my password?"
PRICE = "How much does Acme Plus cost?"
ERROR_CODE = "What does error E120 mean?"
ROUTE_TO_ANSWER = Say(None, tool_calls=(("answer_question", "{}"),))
ANSWER_PROMPT = load_prompt("answer")
ROUTE_PROMPT = load_prompt("route")


fake, core = model_core_fixtures(seconds_per_call=5)


_turns = iter(range(1_000_000))


async def ask(core: Core, services: Services, text: str) -> tuple[Reply, DecisionRecord]:
    key = f"drafts:{next(_turns)}"
    [reply, *_] = await core.handle(InboundMessage(Platform.CLI, None, key, CUSTOMER, text))
    assert isinstance(reply, Reply)
    record = await DecisionStore(services.pool).get(reply.decision_id or "")
    assert record is not None
    return reply, record


async def prompt_for(services: Services, question: str) -> str:
    """The answer prompt exactly as the core renders it for `question`."""
    results = await services.searcher.search(question, org=None, limit=CoreConfig().passages, per_document=1)
    return ANSWER_PROMPT.render(company=CoreConfig().company, passages=numbered_passages(results), question=question)


def drafting(record: DecisionRecord) -> dict[str, object]:
    [call] = [call for call in record.model_calls if call["step"] == "drafting"]
    return call


def assert_quoted_instead(reply: Reply, record: DecisionRecord, draft: str) -> None:
    """The customer got the offline answerer's reply, with its citations, and nothing of the draft."""
    assert reply.text and reply.citations and draft[:40] not in reply.text
    assert record.outcome == "answered" and record.reply == reply.text
    assert (record.model, record.prompt_version) == OFFLINE_ANSWERER
    assert drafting(record)["outcome"] == "rejected"
    assert any("model draft not used" in note for note in record.notes)


async def test_a_prompt_echo_with_valid_markers_is_rejected(core: Core, services: Services, fake: FakeOpenAI) -> None:
    prompt = await prompt_for(services, PASSWORD)
    # the prompt given back, up to the end of its first passage: "[1]" in it is a valid citation
    echo = prompt[: prompt.index("[2]")].strip()
    assert len(echo) < MAX_DRAFT_CHARS and "[1]" in echo
    fake.script(ROUTE_TO_ANSWER, Say(echo))
    reply, record = await ask(core, services, PASSWORD)
    assert fake.chat_requests[-1]["messages"][0]["content"] == prompt  # the echo is of the prompt it was sent
    assert_quoted_instead(reply, record, echo)
    [rejected] = record.rejected_drafts
    assert rejected["text"] == echo and rejected["finish_reason"] == "stop"
    assert rejected["reason"].startswith("the draft repeats the prompt's instructions")
    assert "cites" not in rejected["reason"]  # the citation check alone would have let it through


async def test_the_issue_draft_is_rejected_for_all_it_got_wrong(
    core: Core, services: Services, fake: FakeOpenAI
) -> None:
    """The draft from the issue: the prompt and passages given back, cut off mid-word, a code miscopied."""
    prompt = await prompt_for(services, ERROR_CODE)
    draft = prompt.replace("E101–E120", "E101–E110")[:1700]
    fake.script(ROUTE_TO_ANSWER, Say(draft, finish_reason="length"))
    reply, record = await ask(core, services, ERROR_CODE)
    assert_quoted_instead(reply, record, draft)
    reason = record.rejected_drafts[0]["reason"]
    assert "cut off (finish_reason=length)" in reason
    assert "1,700 characters, over the 1,500-character limit" in reason
    assert "repeats the prompt's instructions" in reason
    assert "E110" in reason


@pytest.mark.parametrize("script", [Echo(), Truncated(1200)], ids=["echo", "truncated-echo"])
async def test_a_server_that_echoes_the_prompt_never_reaches_the_customer(
    core: Core, services: Services, fake: FakeOpenAI, script: Echo | Truncated
) -> None:
    fake.script(ROUTE_TO_ANSWER, script)
    reply, record = await ask(core, services, PASSWORD)
    assert_quoted_instead(reply, record, "You are the support assistant of Acme Gadgets.")
    [rejected] = record.rejected_drafts
    assert rejected["text"].startswith("You are the support assistant of Acme Gadgets.")
    assert "repeats the prompt's instructions" in rejected["reason"]
    assert ("cut off (finish_reason=length)" in rejected["reason"]) is isinstance(script, Truncated)


async def test_a_draft_cut_off_at_the_token_limit_is_rejected(core: Core, services: Services, fake: FakeOpenAI) -> None:
    cut = "Use the reset link on the sign-in page to set a new one yourself [1]. It takes a couple of min"
    fake.script(ROUTE_TO_ANSWER, Say(cut, finish_reason="length"))
    reply, record = await ask(core, services, PASSWORD)
    assert_quoted_instead(reply, record, cut)
    assert record.rejected_drafts == [
        {"text": cut, "reason": "the draft was cut off (finish_reason=length)", "finish_reason": "length"}
    ]
    assert drafting(record)["finish_reason"] == "length"


async def test_an_over_long_draft_is_rejected(core: Core, services: Services, fake: FakeOpenAI) -> None:
    sentence = "You can set a new password yourself in a couple of minutes [1]. "
    long = (sentence * (MAX_DRAFT_CHARS // len(sentence) + 1)).strip()
    fake.script(ROUTE_TO_ANSWER, Say(long))
    reply, record = await ask(core, services, PASSWORD)
    assert_quoted_instead(reply, record, long)
    assert record.rejected_drafts[0]["reason"] == (
        f"the draft is {len(long):,} characters, over the {MAX_DRAFT_CHARS:,}-character limit"
    )


async def test_a_miscopied_code_is_rejected_and_named(core: Core, services: Services, fake: FakeOpenAI) -> None:
    draft = "Error E110 means the device found a problem: send a report from Settings → Diagnostics [1]."
    fake.script(ROUTE_TO_ANSWER, Say(draft))
    reply, record = await ask(core, services, ERROR_CODE)
    assert_quoted_instead(reply, record, draft)
    assert record.rejected_drafts[0]["reason"] == (
        "the draft states what its cited passages and the question do not: E110"
    )


async def test_a_good_draft_with_numbers_from_its_passage_is_used(
    core: Core, services: Services, fake: FakeOpenAI
) -> None:
    draft = (
        "Acme Plus costs $7.99 a month or $79.00 a year (prices changed on April 1, 2026) [1], and members "
        "get Next-Day delivery for 9.99 USD [2]. You get at least 30 days' notice of a price change [1]."
    )
    fake.script(ROUTE_TO_ANSWER, Say(draft))
    reply, record = await ask(core, services, PRICE)
    assert reply.text == draft
    assert [citation.title for citation in reply.citations] == [
        "Acme Plus plans and pricing",
        "Shipping options and delivery times",
    ]
    assert record.rejected_drafts == []
    assert drafting(record)["outcome"] == "ok"
    assert (record.model, record.prompt_version) == ("openai:gpt-test", ANSWER_PROMPT.label)


async def test_a_wrong_price_is_rejected(core: Core, services: Services, fake: FakeOpenAI) -> None:
    wrong = "Acme Plus costs $8.99 a month or $79 a year [1]."
    fake.script(ROUTE_TO_ANSWER, Say(wrong))
    reply, record = await ask(core, services, PRICE)
    assert_quoted_instead(reply, record, wrong)
    assert record.rejected_drafts[0]["reason"].endswith("do not: $8.99")


async def test_not_found_and_uncited_drafts_are_kept_too(core: Core, services: Services, fake: FakeOpenAI) -> None:
    fake.script(ROUTE_TO_ANSWER, Say("NOT_FOUND"))
    reply, record = await ask(core, services, PASSWORD)
    assert record.outcome == "not_sure"
    assert record.rejected_drafts == [
        {"text": "NOT_FOUND", "reason": "the model found no answer in the passages", "finish_reason": "stop"}
    ]
    assert drafting(record)["outcome"] == "not_found"
    assert (record.model, record.prompt_version) == ("openai:gpt-test", ANSWER_PROMPT.label)

    fake.script(ROUTE_TO_ANSWER, Say("Just use the reset link."))
    reply, record = await ask(core, services, PASSWORD)
    assert_quoted_instead(reply, record, "Just use the reset link.")
    assert record.rejected_drafts[0]["reason"] == "the draft cites nothing of 4 passages"


async def test_explain_names_each_model_step_and_the_rejected_draft(
    core: Core, services: Services, fake: FakeOpenAI
) -> None:
    """A turn the model routed but the offline answerer answered: each step with its own model and prompt."""
    draft = "Error E110 means the device found a problem: send a report from Settings → Diagnostics [1]."
    fake.script(ROUTE_TO_ANSWER, Say(draft))
    reply, record = await ask(core, services, ERROR_CODE)
    text = await DecisionExplainer(DecisionStore(services.pool), services.escalation).explain(record.id)
    lines = [line.strip() for line in text.splitlines()]
    assert "Model calls:" in text
    routing = next(line for line in lines if line.startswith("- routing:"))
    assert routing.startswith(f"- routing: gpt-test, prompt {ROUTE_PROMPT.label} — ok; tokens 12 in / 3 out")
    assert "finish tool_calls" in routing
    drafted = next(line for line in lines if line.startswith("- drafting:"))
    assert drafted.startswith(f"- drafting: gpt-test, prompt {ANSWER_PROMPT.label} — rejected; tokens 12 in / 3 out")
    assert "Total: tokens 24 in / 6 out, cost $0.000036" in lines
    # numbered as in the retrieval list: the passages the core marked as cited, one per citation of the reply
    marked = sorted((p["cited"], n) for n, p in enumerate(record.retrieved, start=1) if p.get("cited"))
    assert [cited for cited, _ in marked] == [c.number for c in reply.citations]
    cited = "".join(f"[{number}]" for _, number in marked)
    answer = next(line for line in lines if ". Answer:" in line)
    assert answer.endswith(
        f"Answer: quoted offline from passages {cited} (offline-grounded, extractive-1); "
        "the model's draft was not used (rejected)"
    )
    assert "Drafts not used (1):" in text
    assert (
        "- the draft states what its cited passages and the question do not: E110 (finish stop): "
        "'Error E110 means the device found a problem" in text
    )
    assert "offline-grounded, prompt" not in text and "prompt —" not in text and "$0.0000 " not in text


async def test_explain_says_price_unknown_for_an_unpriced_model(services: Services, fake: FakeOpenAI) -> None:
    model = OpenAIChatModel(
        base_url=fake.base_url,
        api_key="sk-test",
        model="gpt-unpriced",
        timeout=5,
        max_retries=0,
        prices=PriceTable.parse("gpt-test=1/2"),
    )
    try:
        unpriced = await build_core(services, language_model=model)
        fake.script(ROUTE_TO_ANSWER, Say("You can set a new password yourself in a couple of minutes [1]."))
        reply, record = await ask(unpriced, services, PASSWORD)
    finally:
        await model.close()
    assert reply.text == "You can set a new password yourself in a couple of minutes [1]."
    assert record.cost_unknown and [call["cost_usd"] for call in record.model_calls] == [None, None]
    text = await DecisionExplainer(DecisionStore(services.pool), services.escalation).explain(record.id)
    assert text.count("; price unknown;") == 2
    assert "Total: tokens 24 in / 6 out, cost unknown (no price for gpt-unpriced)" in text
    assert f"Answer: drafted by openai:gpt-unpriced ({ANSWER_PROMPT.label}), citing passages [1]" in text
    assert "$0.0" not in text
