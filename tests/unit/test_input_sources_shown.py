"""Approvers read where each input came from: the Slack card, the Teams card and the terminal say it alike."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

from bot.cli.approvals import _inputs
from bot.presentation.approval import CardContext, approval_card
from bot.slack import render as slack_render
from bot.teams import render as teams_render
from escalation.formatting import approval_input_facts
from escalation.models import Approval, ApprovalState, Risk

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
PARAMS = {"order_id": "A-10231", "amount_cents": 4000, "reason": "it arrived broken"}


def approval(**changes: object) -> Approval:
    base = Approval(
        id="apr_1",
        kind="action",
        workflow="refund",
        action="refund",
        params=PARAMS,
        proposed_params=PARAMS,
        org="acme",
        conversation_key="slack:C1:1.0",
        decision_id="dec_1",
        requested_by="U-cust",
        risk=Risk.MEDIUM,
        rule="autonomy_approve",
        state=ApprovalState.PENDING,
        decided_by=None,
        decided_at=None,
        decision_note=None,
        edited=False,
        expires_at=NOW + timedelta(hours=24),
        idempotency_key="apr_1:refund",
        attempts=0,
        last_error=None,
        result=None,
        executed_at=None,
        rollback_of=None,
        rolled_back_at=None,
        created_at=NOW,
        input_sources={"order_id": "customer", "amount_cents": "model", "reason": "customer"},
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_each_input_says_where_it_came_from() -> None:
    assert approval_input_facts(approval()) == [
        ("order_id", "A-10231 (from the customer's message)"),
        ("amount_cents", "$40.00 (filled in by the model — check it)"),
        ("reason", "it arrived broken (from the customer's message)"),
    ]


def test_an_amount_the_approver_changed_says_so() -> None:
    edited = approval(params={**PARAMS, "amount_cents": 3500}, edited=True, state=ApprovalState.EXECUTED)
    assert ("amount_cents", "$35.00 (changed by the approver)") in approval_input_facts(edited)


def test_without_sources_the_inputs_are_shown_as_before() -> None:
    plain = approval(input_sources={})
    assert approval_input_facts(plain)[1] == ("amount_cents", "$40.00")
    assert _inputs(plain) == json.dumps(PARAMS)


def test_the_cards_and_the_terminal_show_the_sources() -> None:
    context = CardContext(reason="r", request_text="Refund 40 for order A-10231", confidence=0.85)
    fields = slack_render.approval_card(approval_card(approval(), context))[1]["fields"]
    inputs = next(field["text"] for field in fields if field["text"].startswith("*Inputs*"))
    assert inputs.splitlines() == [
        "*Inputs*",
        "order_id=A-10231 (from the customer's message)",
        "amount_cents=$40.00 (filled in by the model — check it)",
        "reason=it arrived broken (from the customer's message)",
    ]
    card = teams_render.approval_card(approval_card(approval(), CardContext(reason="r", summary="Approve a refund?")))
    shown = {
        fact["title"]: fact["value"] for item in card["body"] if item["type"] == "FactSet" for fact in item["facts"]
    }
    assert shown["amount_cents"] == "$40.00 (filled in by the model — check it)"
    assert "amount_cents=$40.00 (filled in by the model — check it)" in _inputs(approval())
