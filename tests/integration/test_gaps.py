"""Knowledge gaps: recorded with a reason, grouped by meaning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.services import Services
from knowledge.gaps import GapReason

pytestmark = pytest.mark.integration


async def test_near_duplicate_questions_are_grouped_with_counts(kb: Services) -> None:
    refunds = ["Where is my refund?", "I still haven't received my refund", "when will I get my refund back"]
    for question in refunds:
        await kb.gaps.record(question, reason=GapReason.NO_ANSWER, org="globex", conversation_key="C1:1")
    await kb.gaps.record("How do I enable two-factor authentication?", reason=GapReason.LOW_CONFIDENCE, org="initech")
    await kb.gaps.record("Setting up 2FA on my account", reason=GapReason.NEGATIVE_FEEDBACK, org="initech")

    groups = await kb.gaps.groups(since=datetime.now(UTC) - timedelta(days=7))

    assert [group.count for group in groups] == [3, 2]
    assert groups[0].example == "Where is my refund?"
    assert groups[0].reasons == {"no_answer": 3}
    assert groups[0].orgs == ["globex"]
    assert groups[1].reasons == {"low_confidence": 1, "negative_feedback": 1}

    only_globex = await kb.gaps.groups(since=datetime.now(UTC) - timedelta(days=7), org="globex")
    assert [group.count for group in only_globex] == [3]
    future = await kb.gaps.groups(since=datetime.now(UTC) + timedelta(minutes=1))
    assert future == []
