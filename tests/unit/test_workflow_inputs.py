"""Reading workflow inputs from plain messages, and validating them before anything runs."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from handlers.answering import cited_numbers, confidence_of
from handlers.workflows import extract, missing, validate
from knowledge.models import Freshness, SearchResult


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("refund order a-10231 please", {"order_id": "A-10231"}),
        ("I paid $40 for it", {"amount_cents": 4000}),
        ("refund of $5,000 now", {"amount_cents": 500000}),
        ("$1,250.50 back please", {"amount_cents": 125050}),
        ("12,50 €", {}),  # a euro sign after the number is not a currency we parse: never guess
        ("€12,50", {"amount_cents": 1250}),
        ("40 dollars for A-10226", {"order_id": "A-10226", "amount_cents": 4000}),
        ("no numbers here", {}),
    ],
)
def test_order_ids_and_amounts(text: str, expected: dict[str, object]) -> None:
    assert extract(text, wanted=["order_id", "amount_cents"]) == expected


def test_emails_go_where_they_were_asked_for() -> None:
    wanted = ["current_email", "new_email"]
    assert extract("from A@B.com to c@d.org", wanted=wanted) == {"current_email": "a@b.com", "new_email": "c@d.org"}
    assert extract("it's jane@x.com", wanted=wanted, asked_for="current_email") == {"current_email": "jane@x.com"}
    assert extract("jane@y.com", wanted=wanted) == {"new_email": "jane@y.com"}


def test_a_reason_is_taken_only_when_asked_for() -> None:
    assert extract("it arrived broken", wanted=["reason"]) == {}
    assert extract("it arrived broken", wanted=["reason"], asked_for="reason") == {"reason": "it arrived broken"}


def test_missing_and_validation() -> None:
    assert missing("refund", {"order_id": "A-1"}) == ["amount_cents", "reason"]
    bad = validate("refund", {"order_id": "not an order", "amount_cents": 0, "reason": "broken"})
    assert bad.inputs is None
    assert [problem.split(":")[0] for problem in bad.problems] == ["order_id", "amount_cents"]
    good = validate("change_email", {"current_email": "a@b.com", "new_email": "c@d.org"})
    assert good.inputs is not None and good.problems == []
    assert validate("refund", {"order_id": "A-10231", "amount_cents": 5, "reason": "ok!", "admin": True}).inputs is None


def _result(dense: float, freshness: Freshness = Freshness.FRESH) -> SearchResult:
    now = datetime.now(UTC)
    return SearchResult(
        1, 1, "doc", None, "Title", (), "text", None, None, now, date(2099, 1, 1), freshness, dense, {"dense": dense}
    )


def test_confidence_from_the_best_passage() -> None:
    assert confidence_of([]) == 0.0
    assert confidence_of([_result(0.2)]) == 0.0
    assert confidence_of([_result(0.6)]) == 1.0
    assert confidence_of([_result(0.425)]) == pytest.approx(0.5)
    assert confidence_of([_result(0.425, Freshness.STALE)]) == pytest.approx(0.425)


def test_cited_numbers() -> None:
    # which sentences answer: tests/unit/test_units.py, test_offline_answers.py and tests/integration/
    assert cited_numbers("See [1] and [3], not [x] or [100].") == {1, 3}
