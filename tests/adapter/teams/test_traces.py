"""A Teams refund is one trace too: the activity that brought the amount, its queued turn, the approval card,
and the click that approved it (handled inside the invoke's request), down to the execution and the reply."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from bot.demo.backend import DemoBackend
from bot.services import Services
from handlers.decisions import DecisionStore
from tests.adapter.teams.conftest import BEA, Teams
from tests.adapter.teams.test_approvals import data_of, request_refund
from tests.fakes.spans import recorded_spans

pytestmark = pytest.mark.integration


async def test_a_teams_refund_from_message_to_execution_is_one_trace(teams: Teams, services: Services) -> None:
    await DemoBackend(services.pool).reset_demo_data()
    with recorded_spans() as exporter:
        _, card = await request_refund(teams)
        approval_id = data_of(card)["approval"]
        response = await teams.click(BEA, "approve", data_of(card), conversation=card.conversation_id)
        assert response["statusCode"] == 200
        spans = exporter.get_finished_spans()
    decision = await DecisionStore(services.pool).for_approval(approval_id)
    assert decision is not None and decision.trace_id is not None
    mine = [span for span in spans if trace.format_trace_id(span.context.trace_id) == decision.trace_id]
    names = {span.name for span in mine}
    expected = {"teams receive", "queue wait", "turn", "execute_tool refund", "policy evaluation"}
    assert expected | {"approval request", "delivery teams", "decision click", "execution"} <= names
    [click] = [span for span in mine if span.name == "decision click"]
    [to_click] = click.links
    assert trace.format_trace_id(to_click.context.trace_id) != decision.trace_id  # the invoke's own trace
