"""The offline answerer's rules on passages built by hand, with a bag-of-words embedder standing in for the
model (the real one is used in tests/integration/test_offline_answers.py): which unit leads, what joins it,
which passages are cited, and how the answer reads."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import numpy as np

from handlers.answering import STALE_ADVICE, STALE_NOTE, grounded_answer
from handlers.unit_scoring import UnitScorer
from knowledge.embedder import Vectors
from knowledge.models import Freshness, SearchResult
from tests.fakes.openai_server import bag_of_words

_ids = itertools.count(1)


class WordsEmbedder:
    """Deterministic vectors: texts that share words point the same way."""

    name, dimension = "bag-of-words", 64

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def embed(self, texts: list[str]) -> Vectors:
        self.calls.append(texts)
        vectors = np.array([bag_of_words(text, self.dimension) for text in texts], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def passage(
    text: str,
    *,
    score: float,
    title: str = "Article",
    document: int | None = None,
    stale: bool = False,
    headings: tuple[str, ...] = (),
) -> SearchResult:
    chunk = next(_ids)
    return SearchResult(
        chunk_id=chunk,
        document_id=document if document is not None else chunk,
        doc_key=f"docs/{title.lower().replace(' ', '-')}",
        org=None,
        title=title,
        heading_path=headings,
        text=text,
        source_url=None,
        owner=None,
        updated_at=datetime.now(UTC),
        review_by=date.today() - timedelta(days=1) if stale else date(2099, 1, 1),
        freshness=Freshness.STALE if stale else Freshness.FRESH,
        score=score,
        scores={"dense": 0.6},
    )


TABLE = (
    "| Code | Meaning | What to try |\n|---|---|---|\n"
    "| E102 | Device already linked | The previous owner must remove it |\n"
    "| E103 | Wrong Wi-Fi password | Re-enter the password; it is case-sensitive |\n"
    "| E118 | Time sync failed | Check the router allows NTP (UDP 123) |"
)


async def test_the_row_that_defines_the_code_leads_over_a_passage_that_mentions_it() -> None:
    results = [
        passage("If setup ends with an error code between E103 and E107, the cause is a router setting.", score=1.0),
        passage(TABLE, score=0.7, title="Error codes"),
    ]
    draft = await grounded_answer("What does error E103 mean?", results, scorer=UnitScorer(WordsEmbedder()))
    assert draft.text == (
        "Code E103 · Meaning: Wrong Wi-Fi password · What to try: Re-enter the password; it is case-sensitive [1]"
        "\n\nMore in [1]."
    )
    assert [c.title for c in draft.citations] == ["Error codes"] and draft.sources == (results[1],)
    assert [fact.label for fact in draft.parts[0].facts] == ["Code", "Meaning", "What to try"]


async def test_a_second_passage_that_adds_nothing_is_not_quoted_or_cited() -> None:
    results = [
        passage(TABLE, score=1.0, title="Error codes"),
        passage("Firmware errors E111 to E113 are retried automatically every 6 hours.", score=0.95, title="Firmware"),
    ]
    draft = await grounded_answer("What does error E118 mean?", results, scorer=UnitScorer(WordsEmbedder()))
    assert draft.text.startswith("Code E118 · Meaning: Time sync failed") and "Firmware" not in draft.text
    assert [c.title for c in draft.citations] == ["Error codes"]


async def test_another_article_that_repeats_the_code_is_not_added_to_the_answer() -> None:
    # it names the code and a word the row lacks, and scores close: still the second passage that adds nothing
    results = [
        passage(TABLE, score=1.0, title="Error codes"),
        passage("On the hub, error E118 also shows in the event log.", score=0.98, title="Hub event log"),
    ]
    question = "What does error E118 mean on my hub?"
    draft = await grounded_answer(question, results, scorer=UnitScorer(WordsEmbedder()))
    assert [c.title for c in draft.citations] == ["Error codes"] and "event log" not in draft.text


async def test_a_unit_that_states_how_long_leads_when_the_question_asks_how_long() -> None:
    article = passage(
        "The reset link is sent to the address on your account. The reset link is valid for 60 minutes.",
        score=1.0,
        title="Reset your password",
    )
    draft = await grounded_answer("How long is the reset link valid?", [article], scorer=UnitScorer(WordsEmbedder()))
    assert draft.text == "The reset link is valid for 60 minutes. [1]\n\nMore in [1]."


async def test_each_part_of_a_two_part_question_gets_its_unit() -> None:
    article = passage(
        "Refunds are issued within 3 business days of arrival. Gift cards never expire. "
        "Refunds always go back to the original payment method.",
        score=1.0,
        title="Refunds",
    )
    draft = await grounded_answer(
        "How long do refunds take, and where does the refund money go back to?",
        [article],
        scorer=UnitScorer(WordsEmbedder()),
    )
    assert "3 business days" in draft.text and "original payment method" in draft.text
    assert "Gift cards" not in draft.text


async def test_how_to_questions_get_the_steps_whole_and_in_order() -> None:
    article = passage(
        "Returns are easy.\n\n1. Go to **Account → Orders**.\n2. Click **Return items**.\n3. Print the label.",
        score=1.0,
        title="Start a return",
    )
    draft = await grounded_answer("How do I start a return?", [article], scorer=UnitScorer(WordsEmbedder()))
    assert draft.text == (
        "1. Go to **Account → Orders**.\n2. Click **Return items**.\n3. Print the label. [1]\n\nMore in [1]."
    )


async def test_a_lead_in_brings_its_list() -> None:
    article = passage(
        "We treat a parcel as lost when any of the following is true:\n\n"
        "- no new scan for 5 business days;\n- tracking stopped 3 days past the estimate.\n\nReport it online.",
        score=1.0,
        title="Lost parcels",
    )
    draft = await grounded_answer("When is a parcel treated as lost?", [article], scorer=UnitScorer(WordsEmbedder()))
    assert draft.text == (
        "We treat a parcel as lost when any of the following is true:\n- no new scan for 5 business days;\n"
        "- tracking stopped 3 days past the estimate. [1]\n\nMore in [1]."
    )


async def test_a_stale_source_is_flagged_and_the_customer_told_to_double_check() -> None:
    article = passage("Standard shipping to Canada costs $19.95.", score=1.0, title="Shipping", stale=True)
    draft = await grounded_answer("How much is shipping to Canada?", [article], scorer=UnitScorer(WordsEmbedder()))
    assert draft.text == f"Standard shipping to Canada costs $19.95. [1]{STALE_NOTE}\n\nMore in [1].\n\n{STALE_ADVICE}"
    assert draft.citations[0].stale


async def test_units_are_embedded_once_and_the_question_through_the_embedder() -> None:
    embedder = WordsEmbedder()
    scorer = UnitScorer(embedder)
    results = [passage(TABLE, score=1.0, title="Error codes")]
    await grounded_answer("What does error E118 mean?", results, scorer=scorer)
    await grounded_answer("What does error E102 mean?", results, scorer=scorer)
    batches = [texts for texts in embedder.calls if len(texts) > 1]
    assert len(batches) == 1 and len(batches[0]) == 3  # the three rows, once; later turns embed the question only


async def test_no_passages_no_answer() -> None:
    draft = await grounded_answer("Anything?", [], scorer=UnitScorer(WordsEmbedder()))
    assert draft.text == "" and draft.citations == () and draft.confidence == 0.0


async def test_a_how_long_question_is_answered_by_the_amount_the_articles_title_names() -> None:
    title = "Return policy and the 30-day return window"
    results = [
        passage(
            "Gifts delivered in December can be returned until 31 January.",
            score=1.0,
            title=title,
            document=7,
            headings=("Holiday season extension",),
        ),
        passage("Most products can be returned within 30 days of delivery.", score=0.5, title=title, document=7),
    ]
    draft = await grounded_answer(
        "How long do I have to return something?", results, scorer=UnitScorer(WordsEmbedder())
    )
    assert draft.text.startswith("Most products can be returned within 30 days of delivery. [1]")
    assert draft.sources == (results[1],)


async def test_a_section_named_by_the_question_outranks_the_articles_introduction() -> None:
    title = "Changing or cancelling your plan"
    results = [
        passage(
            "From Manage membership you can pause your membership or cancel it.", score=1.0, title=title, document=8
        ),
        passage(
            "You can pause your membership for 1, 2 or 3 months.",
            score=0.6,
            title=title,
            document=8,
            headings=("Pausing your membership",),
        ),
    ]
    draft = await grounded_answer("Can I pause my membership?", results, scorer=UnitScorer(WordsEmbedder()))
    assert draft.text.startswith("You can pause your membership for 1, 2 or 3 months. [1]")
    assert draft.sources == (results[1],)


async def test_steps_under_a_how_to_heading_answer_how_do_i_over_a_list_that_mentions_it() -> None:
    title = "Factory resetting the hub"
    results = [
        passage(
            "1. Back up the hub in the app first.\n"
            "2. Selling it? Remove it instead: this performs a factory reset for you.",
            score=1.0,
            title=title,
            document=9,
            headings=("Before you start",),
        ),
        passage(
            "1. Press the reset hole.\n2. Hold for 15 seconds until the ring flashes red.",
            score=0.8,
            title=title,
            document=9,
            headings=("How to reset",),
        ),
    ]
    draft = await grounded_answer("How do I factory reset the hub?", results, scorer=UnitScorer(WordsEmbedder()))
    assert draft.text.startswith("1. Press the reset hole.\n2. Hold for 15 seconds")
    assert draft.sources == (results[1],)
