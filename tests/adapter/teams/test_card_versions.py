"""Teams approval cards only move forward: an update of an older (or the same) version of an approval is refused."""

from __future__ import annotations

import dataclasses

import pytest

from bot.presentation.approval import CardContext, approval_card
from bot.services import Services
from bot.teams import render
from escalation.models import ApprovalState
from tests.adapter.teams.conftest import BEA, Teams
from tests.adapter.teams.test_approvals import data_of, request_refund

pytestmark = pytest.mark.integration


async def test_a_late_update_of_an_earlier_state_never_replaces_the_decided_card(
    teams: Teams, services: Services
) -> None:
    _, card = await request_refund(teams, "$25")
    approval_id = data_of(card)["approval"]
    response = await teams.click(BEA, "approve", data_of(card), conversation=card.conversation_id)
    decided = response["value"]
    updates = [u for u in teams.connector.updates() if u.activity_id == card.activity_id]
    assert len(updates) == 1 and updates[0].card == decided  # the decider's click updated it, once
    done = await services.escalation.approval(approval_id)
    assert done is not None and done.state is ApprovalState.EXECUTED

    delivery = teams.runtime.delivery
    running = dataclasses.replace(done, state=ApprovalState.EXECUTING, version=done.version - 1, result=None)
    stale = render.approval_card(approval_card(running, CardContext(reason="late", summary="late")))
    assert await delivery.update_card(approval_id, stale, version=running.version) is False
    assert await delivery.update_card(approval_id, stale, version=done.version) is False
    assert [u for u in teams.connector.updates() if u.activity_id == card.activity_id] == updates
