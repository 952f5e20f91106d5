"""What a question asks for, and when a message leans on the one before it."""

from __future__ import annotations

import pytest

from handlers.follow_ups import earlier_question, leans_on_earlier, offline_query
from handlers.question_terms import Part, codes_in, numbers_in, question_terms, stem, words


def test_codes_are_identifiers_said_exactly() -> None:
    text = "E118, A-10231, AG-20817734, CR2477, DX-7F3K2Q, order_not_cancellable, but not 2FA, 5GHz or E2"
    assert codes_in(text) == {"e118", "a-10231", "ag-20817734", "cr2477", "dx-7f3k2q", "order_not_cancellable"}


def test_numbers_worth_matching_have_two_digits() -> None:
    assert numbers_in("Hub 2 fails with 409 after 1,000 units or $6.95") == {"409", "1000", "6.95"}


def test_words_are_stemmed_and_places_said_two_ways_meet() -> None:
    assert stem("returns") == stem("returned") == stem("returning") == "return"
    assert stem("confirmation") == stem("confirm")
    assert words("Shipping to the European Union") == words("shipping to the EU") == {"shipp", "eu"}
    assert words("How long does it take to show up?") == set()  # only the wording of a question


@pytest.mark.parametrize(
    ("question", "wants"),
    [
        ("How long is the reset link valid?", {"duration"}),
        ("What is the cut-off time?", {"duration"}),
        ("How much does a label cost?", {"money"}),
        ("How many backup codes do I get?", {"count"}),
        ("The price dropped, can I get the difference?", set()),  # a price mentioned is not a price asked for
    ],
)
def test_the_kind_of_amount_asked_for(question: str, wants: set[str]) -> None:
    assert question_terms(question).wants == wants


def test_an_amount_of_the_kind_asked_for() -> None:
    terms = question_terms("How long is the link valid?")
    assert terms.amount_in("valid for **60 minutes**") and terms.amount_in("within 3–5 business days")
    assert not terms.amount_in("the short code 22634")


def test_a_follow_up_keeps_asking_what_the_thread_asked() -> None:
    terms = question_terms("What about Klarna?", context="How long do refunds to PayPal take?")
    assert terms.wants == {"duration"}
    assert terms.weights["klarna"] == 1.0 and terms.weights["paypal"] == 0.5


def test_two_questions_in_one_message_are_two_parts() -> None:
    terms = question_terms("How long does a refund take once my return arrives, and where does the money go?")
    assert terms.parts == (
        Part(frozenset({"refund", "once", "return", "arriv"}), frozenset({"duration"})),
        Part(frozenset({"money", "go"}), frozenset()),
    )
    assert question_terms("How do I reset my password?").parts == ()
    assert question_terms("How do I reset my password?").how_to


@pytest.mark.parametrize(
    ("message", "leans"),
    [
        ("And for the EU plug?", True),
        ("What about Klarna?", True),
        ("How long does it take to arrive?", True),  # short, and "it" points back
        ("How long does it take for a refund to reach my PayPal account?", False),  # says what "it" is
        ("What does error E118 mean?", False),
    ],
)
def test_which_messages_lean_on_the_one_before(message: str, leans: bool) -> None:
    assert leans_on_earlier(message) is leans


def test_a_follow_up_is_searched_with_its_thread() -> None:
    query = offline_query("And for the EU plug?", ["What is the maximum load for the smart plug in the US?"])
    assert query.text == "What is the maximum load for the smart plug in the US? And for the EU plug?"
    assert query.context == "What is the maximum load for the smart plug in the US?"
    # a standalone question is searched as written, whatever came before
    assert offline_query("What does error E118 mean?", ["Where is my order?"]).text == "What does error E118 mean?"
    assert offline_query("And for the EU plug?", []).context is None  # nothing to lean on


def test_a_chain_of_follow_ups_reaches_back_to_the_question_they_follow() -> None:
    earlier = ["Where is my order?", "How much is shipping to Canada?", "And express?"]
    assert earlier_question(earlier) == "How much is shipping to Canada? And express?"
