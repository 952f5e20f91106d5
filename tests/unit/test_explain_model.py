"""The model lines of `supportbot explain`: one per call, the answerer named, unpriced never shown as $0."""

from __future__ import annotations

from handlers.decisions import DecisionRecord
from handlers.explain.chain import explain
from handlers.explain.model_calls import model_steps


def record(**fields: object) -> DecisionRecord:
    made = DecisionRecord(id="dec_1", conversation_key="c", org=None, platform="cli", author="U1", inbound="hi")
    for name, value in fields.items():
        setattr(made, name, value)
    return made


def test_an_unpriced_model_shows_price_unknown_and_the_total_cost_unknown() -> None:
    turn = record(outcome="answered", model="openai:local", prompt_version="answer@1")
    turn.count_model_call(
        "routing", model="local", prompt_version="route@1", outcome="ok", prompt_tokens=900, cost_usd=None
    )
    turn.count_model_call(
        "drafting", model="gpt-test", prompt_version="answer@1", outcome="ok", prompt_tokens=19, cost_usd=0.25
    )
    [calls, _] = model_steps(turn)
    assert calls[1] == "   - routing: local, prompt route@1 — ok; tokens 900 in / 0 out; price unknown"
    assert calls[2] == "   - drafting: gpt-test, prompt answer@1 — ok; tokens 19 in / 0 out; $0.250000"
    assert calls[3] == (
        "   Total: tokens 919 in / 0 out, cost unknown (no price for local; $0.250000 counted for the priced calls)"
    )


def test_a_failed_call_says_why() -> None:
    turn = record(outcome="answered", model="offline-grounded", prompt_version="extractive-1")
    turn.count_model_call(
        "drafting", model="openai:m", prompt_version="answer@1", outcome="timeout", detail="no reply in 25 s"
    )
    [calls, answer] = model_steps(turn)
    assert (
        calls[1]
        == "   - drafting: openai:m, prompt answer@1 — timeout (no reply in 25 s); tokens 0 in / 0 out; $0.000000"
    )
    assert answer == [
        "Answer: quoted offline from passages (not recorded) (offline-grounded, extractive-1); "
        "the model's draft was not used (timeout)"
    ]


def test_an_offline_only_turn_reads_as_before_without_model_lines() -> None:
    turn = record(
        outcome="answered",
        model="offline-grounded",
        prompt_version="extractive-1",
        retrieved=[
            {"title": "Shipping", "heading_path": ["Canada"], "score": 0.9},
            {"title": "Returns", "heading_path": [], "score": 0.5},
        ],
        outbound=[
            {
                "kind": "reply",
                "item": {"citations": [{"title": "Shipping", "heading_path": ["Canada"]}, {"title": "Returns"}]},
            }
        ],
        reply="Here is what our help centre says: …",
    )
    text = explain(turn, None, [])
    assert "3. Answer: quoted offline from passages [1][2] (offline-grounded, extractive-1)\n" in text
    assert "Model" not in text and "tokens" not in text and "$" not in text


def test_a_record_from_before_per_call_accounting_keeps_its_model_line() -> None:
    turn = record(outcome="asked", model="openai:m", prompt_version=None, prompt_tokens=10, completion_tokens=2)
    assert model_steps(turn) == [["Model: openai:m, prompt —; Total: tokens 10 in / 2 out, cost $0.000000"]]


def test_not_found_names_the_model_that_found_nothing_and_keeps_its_reply() -> None:
    turn = record(outcome="not_sure", model="openai:m", prompt_version="answer@1")
    turn.count_model_call("drafting", model="m", prompt_version="answer@1", outcome="not_found", detail="none")
    turn.rejected_drafts.append({"text": "NOT_FOUND", "reason": "the model found no answer", "finish_reason": "stop"})
    [_, answer, drafts] = model_steps(turn)
    assert answer == ["Answer: none — openai:m (answer@1) found no answer in the passages"]
    assert drafts == ["Drafts not used (1):", "   - the model found no answer (finish stop): 'NOT_FOUND'"]


def test_a_long_rejected_draft_is_shown_as_an_excerpt() -> None:
    turn = record(outcome="answered", model="offline-grounded", prompt_version="extractive-1")
    turn.rejected_drafts.append({"text": "word " * 400, "reason": "too long", "finish_reason": None})
    [*_, drafts] = model_steps(turn)
    assert drafts[1].startswith("   - too long: 'word word") and drafts[1].endswith("word…'")
    assert len(drafts[1]) < 400
