"""The weekly digest in Teams: posted as an Adaptive Card; Demote works for leads only."""

from __future__ import annotations

import pytest

from bot.services import Services
from bot.teams.digest import TeamsDigestPublisher
from escalation.models import Stage
from tests.adapter.teams.conftest import LENA, SAM, Teams
from tests.unit.test_digest_render import digest

pytestmark = pytest.mark.integration
DIGEST_CHANNEL = "19:digest@thread.tacv2"


async def test_digest_card_is_posted_and_demote_is_for_leads(teams: Teams, services: Services) -> None:
    publisher = TeamsDigestPublisher(teams.runtime.delivery, conversation=DIGEST_CHANNEL)
    assert publisher.platform == "teams"
    ref = await publisher.publish(digest(), chart_png=None)
    [posted] = [s for s in teams.connector.posted(DIGEST_CHANNEL) if s.activity_id == ref]
    assert posted.card is not None and "2026-W47" in str(posted.card)
    demote = next(
        a for a in _actions(posted.card) if a["verb"] == "digest_demote" and a["data"]["workflow"] == "refund"
    )
    try:
        refused = await teams.click(SAM, "digest_demote", demote["data"], conversation=posted.conversation_id)
        assert refused["type"] == "application/vnd.microsoft.activity.message"
        assert await services.escalation.autonomy.stage("refund") is Stage.APPROVE
        done = await teams.click(LENA, "digest_demote", demote["data"], conversation=posted.conversation_id)
        assert done["type"] == "application/vnd.microsoft.activity.message" and done["value"] != refused["value"]
        assert await services.escalation.autonomy.stage("refund") is Stage.SHADOW
    finally:
        async with services.pool.connection() as conn:
            await conn.execute("TRUNCATE autonomy_stages CASCADE")


def _actions(node: object) -> list[dict[str, object]]:
    """Every Action.Execute anywhere in the card."""
    found: list[dict[str, object]] = []
    if isinstance(node, dict):
        if node.get("type") == "Action.Execute":
            found.append(node)
        for value in node.values():
            found += _actions(value)
    elif isinstance(node, list):
        for value in node:
            found += _actions(value)
    return found
