"""Heading-aware, sentence-preserving chunking."""

from __future__ import annotations

import random

import pytest

from knowledge.chunking import chunk_document, extract_title, split_sentences
from knowledge.models import Chunk


def _chunks(text: str, *, title: str = "Guide", max_chars: int = 1000, markup: str = "markdown") -> list[Chunk]:
    return chunk_document(text, markup=markup, title=title, max_chars=max_chars)


# --- headings -------------------------------------------------------------------------------------------

NESTED = """\
# Guide

Intro paragraph.

## Refunds

Refunds take five days.

### Gift cards

Gift cards are final.

### Sale items

Sale items are final too.

## Shipping

We ship worldwide.

# Appendix

Extra notes.
"""


def test_nested_headings_become_heading_paths_and_pop_correctly() -> None:
    chunks = _chunks(NESTED, title="Guide")
    assert [(c.heading_path, c.text) for c in chunks] == [
        ((), "Intro paragraph."),
        (("Refunds",), "Refunds take five days."),
        (("Refunds", "Gift cards"), "Gift cards are final."),
        (("Refunds", "Sale items"), "Sale items are final too."),
        (("Shipping",), "We ship worldwide."),
        (("Appendix",), "Extra notes."),
    ]
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_h1_is_kept_in_path_when_it_is_not_the_title() -> None:
    chunks = _chunks(NESTED, title="Something else")
    assert chunks[1].heading_path == ("Guide", "Refunds")
    assert chunks[2].heading_path == ("Guide", "Refunds", "Gift cards")
    assert chunks[-1].heading_path == ("Appendix",)


def test_deeper_heading_after_skipped_level_and_back_up() -> None:
    text = "## A\n\na\n\n#### A-deep\n\ndeep\n\n### A3\n\nthree\n\n## B\n\nb\n"
    assert [c.heading_path for c in _chunks(text)] == [("A",), ("A", "A-deep"), ("A", "A3"), ("B",)]


def test_closing_hashes_are_stripped_from_heading() -> None:
    chunks = _chunks("## Billing ##\n\nPay monthly.\n")
    assert chunks == [Chunk(ordinal=0, heading_path=("Billing",), text="Pay monthly.")]


def test_heading_without_body_produces_no_chunk() -> None:
    chunks = _chunks("## Empty\n\n## Full\n\nBody.\n")
    assert [(c.heading_path, c.text) for c in chunks] == [(("Full",), "Body.")]


def test_hash_without_space_is_not_a_heading() -> None:
    chunks = _chunks("#hashtag is text\n\nMore text.\n")
    assert chunks == [Chunk(ordinal=0, heading_path=(), text="#hashtag is text\n\nMore text.")]


def test_heading_ending_in_hash_character_keeps_it() -> None:
    chunks = _chunks("## Using C#\n\nCompile it.\n")
    assert chunks[0].heading_path == ("Using C#",)


# --- paragraphs and sentences ---------------------------------------------------------------------------


def test_paragraphs_that_fit_are_kept_whole_and_packed_together() -> None:
    first = "First paragraph line one.\nline two of the same paragraph."
    second = "Second paragraph."
    third = "Third paragraph is here."
    text = f"{first}\n\n{second}\n\n{third}\n"
    # first + second fit in one chunk; adding the third would overflow.
    max_chars = len(first) + 2 + len(second) + 5
    chunks = _chunks(text, max_chars=max_chars)
    assert [c.text for c in chunks] == [f"{first}\n\n{second}", third]


def test_paragraph_exactly_at_limit_is_not_split() -> None:
    paragraph = "Alpha beta. Gamma delta. Epsilon zeta."
    chunks = _chunks(paragraph, max_chars=len(paragraph))
    assert [c.text for c in chunks] == [paragraph]


def test_long_paragraph_is_split_at_sentence_boundaries() -> None:
    sentences = [
        "Refunds are issued within five business days.",
        "Gift cards cannot be refunded!",
        "Do you need an exception?",
        "Ask the billing team in the support channel.",
    ]
    paragraph = " ".join(sentences)
    chunks = _chunks(paragraph, max_chars=80)
    assert [c.text for c in chunks] == [f"{sentences[0]} {sentences[1]}", f"{sentences[2]} {sentences[3]}"]


def test_abbreviations_do_not_end_a_sentence() -> None:
    assert split_sentences("Use a tool, e.g. Foo or Bar. Then stop. See the docs, i.e. The Manual.") == [
        "Use a tool, e.g. Foo or Bar.",
        "Then stop.",
        "See the docs, i.e. The Manual.",
    ]


def test_abbreviation_in_long_paragraph_stays_in_one_chunk() -> None:
    text = "Pick a plan, e.g. Pro or Team, before checkout. Then pay."
    chunks = _chunks(text, max_chars=40)
    assert [c.text for c in chunks] == ["Pick a plan, e.g. Pro or Team, before checkout.", "Then pay."]


def test_split_sentences_requires_capital_or_digit_after_stop() -> None:
    assert split_sentences("Version 2.5 is out. 3 fixes landed. it works.") == [
        "Version 2.5 is out.",
        "3 fixes landed. it works.",
    ]


def test_words_ending_like_an_abbreviation_still_end_a_sentence() -> None:
    assert split_sentences("Read it first. Then go. I play piano. Next one.") == [
        "Read it first.",
        "Then go.",
        "I play piano.",
        "Next one.",
    ]


def test_closing_quote_after_sentence_stop_is_kept() -> None:
    text = 'He said "Stop." Then he left. She replied (quietly.) Fine.'
    assert split_sentences(text) == ['He said "Stop."', "Then he left.", "She replied (quietly.)", "Fine."]
    chunks = _chunks(text, max_chars=30)
    assert '"Stop."' in " ".join(c.text for c in chunks)


def test_paragraph_break_survives_before_a_split_paragraph() -> None:
    short = "Short intro."
    long = "Alpha beta gamma delta. Epsilon zeta eta theta. Iota kappa lambda mu."
    chunks = _chunks(f"{short}\n\n{long}", max_chars=50)
    assert chunks[0].text == f"{short}\n\nAlpha beta gamma delta."


def test_sentence_far_longer_than_limit_is_wrapped_at_whitespace() -> None:
    words = [f"word{i:03d}" for i in range(80)]  # one "sentence" of 80*8-1 chars, > 4 * max_chars
    sentence = " ".join(words)
    chunks = _chunks(sentence, max_chars=100)
    assert len(chunks) > 1
    assert all(len(c.text) <= 100 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == words


def test_sentence_up_to_four_times_limit_is_not_cut() -> None:
    sentence = "Word " * 70 + "end."  # 354 chars, under 4 * 100
    chunks = _chunks(sentence.strip(), max_chars=100)
    assert [c.text for c in chunks] == [sentence.strip()]


# --- property: sentences are never cut ------------------------------------------------------------------

_ABBREVIATION_ENDINGS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "no.", "mr.", "mrs.", "dr.", "inc.", "st.")
_VOCABULARY = [
    "refund",
    "policy",
    "customer",
    "invoice",
    "billing",
    "account",
    "support",
    "order",
    "shipping",
    "payment",
    "team",
    "plan",
    "update",
    "device",
    "portal",
    "access",
    "review",
    "request",
    "ticket",
    "window",
    "export",
    "import",
    "report",
    "data",
    "user",
    "admin",
    "setting",
    "option",
    "reply",
    "message",
    "channel",
    "workspace",
    "region",
    "backup",
    "restore",
    "first",
    "piano",
]
# Words such as "request" or "first" end like an abbreviation ("st."): the main property runs
# without them, a second variant with them.
_SAFE_WORDS = [w for w in _VOCABULARY if not f"{w}.".endswith(_ABBREVIATION_ENDINGS)]
_STOPS = (".", ".", ".", "!", "?")


def _sentence(rng: random.Random, serial: int, words_from: list[str]) -> str:
    words = rng.choices(words_from, k=rng.randint(2, 40))
    # a unique, fixed-width token so no sentence is a substring of another
    words.insert(rng.randint(0, len(words)), f"k{serial:05d}x")
    if rng.random() < 0.1:
        words.insert(rng.randint(1, len(words)), "e.g. Foo")
    first = words[0]
    words[0] = first[0].upper() + first[1:]
    return " ".join(words) + rng.choice(_STOPS)


def _document(rng: random.Random, words_from: list[str], max_chars: int) -> tuple[str, list[str]]:
    paragraphs: list[str] = []
    sentences: list[str] = []
    for _ in range(rng.randint(1, 6)):
        para: list[str] = []
        for _ in range(rng.randint(1, 8)):
            sentence = _sentence(rng, len(sentences) + len(para), words_from)
            while len(sentence) > 4 * max_chars:  # beyond that a "sentence" is deliberately hard-wrapped
                sentence = _sentence(rng, len(sentences) + len(para), words_from)
            para.append(sentence)
        sentences.extend(para)
        paragraphs.append(" ".join(para))
    return "\n\n".join(paragraphs), sentences


def _check_sentences_never_cut(markup: str, words_from: list[str]) -> None:
    rng = random.Random(20240611)
    oversized = 0
    for case in range(200):
        max_chars = rng.randint(60, 400)
        text, sentences = _document(rng, words_from, max_chars)
        chunks = chunk_document(text, markup=markup, title="T", max_chars=max_chars)
        bodies = [c.text for c in chunks]
        context = f"case {case}, max_chars={max_chars}"
        for sentence in sentences:
            holders = [i for i, body in enumerate(bodies) if sentence in body]
            assert len(holders) == 1, f"{context}: {sentence!r} found in chunks {holders}"
        for body in bodies:
            if len(body) > max_chars:
                oversized += 1
                assert body in sentences, f"{context}: chunk of {len(body)} chars is not a single sentence"
        # nothing invented, nothing lost, order kept
        assert " ".join(" ".join(bodies).split()) == " ".join(" ".join(sentences).split()), context
        assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert oversized > 0, "generator never exercised the single-long-sentence exception"


def test_vocabulary_split_is_meaningful() -> None:
    assert {"request", "first", "piano"} <= set(_VOCABULARY) - set(_SAFE_WORDS)
    assert len(_SAFE_WORDS) > 30


@pytest.mark.parametrize("markup", ["markdown", "text"])
def test_property_every_sentence_lands_intact_in_exactly_one_chunk(markup: str) -> None:
    _check_sentences_never_cut(markup, _SAFE_WORDS)


def test_property_holds_for_words_ending_like_abbreviations() -> None:
    _check_sentences_never_cut("markdown", _VOCABULARY)


# --- code fences and plain text -------------------------------------------------------------------------

FENCED = """\
# Guide

## Setup

```bash
# install the tool
pip install tool

## not a heading either
tool --init
```

After setup, log in.
"""


def test_hash_lines_inside_fenced_code_are_not_headings() -> None:
    chunks = _chunks(FENCED, title="Guide")
    assert {c.heading_path for c in chunks} == {("Setup",)}
    joined = "\n\n".join(c.text for c in chunks)
    assert "# install the tool" in joined
    assert "## not a heading either" in joined
    assert "After setup, log in." in joined


def test_fenced_block_with_blank_lines_stays_one_block_even_when_long() -> None:
    code = "```\n" + "\n\n".join(f"# step {i}\nrun {i}" for i in range(30)) + "\n```"
    chunks = _chunks(f"## Code\n\n{code}\n\nAfter.", max_chars=100)
    assert chunks[0].text == code
    assert chunks[0].heading_path == ("Code",)
    assert chunks[1].text == "After."


def test_tilde_fence_also_hides_headings() -> None:
    text = "~~~\n# comment\n~~~\n\n## Real\n\nBody."
    chunks = _chunks(text)
    assert [(c.heading_path, c.text) for c in chunks] == [((), "~~~\n# comment\n~~~"), (("Real",), "Body.")]


def test_plain_text_markup_has_no_heading_path() -> None:
    text = "# Looks like a heading\n\nBody text.\n\n## Another\n\nMore."
    chunks = _chunks(text, markup="text", title="Looks like a heading")
    assert [c.heading_path for c in chunks] == [()]
    assert chunks[0].text == "# Looks like a heading\n\nBody text.\n\n## Another\n\nMore."


def test_empty_document_gives_no_chunks() -> None:
    assert _chunks("") == []
    assert _chunks("\n\n   \n") == []
    assert _chunks("# Guide\n\n## Empty\n", title="Guide") == []


# --- extract_title --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Refund policy\n\nBody", "Refund policy"),
        ("Intro line\n\n## Section\n\n# Real Title #\n", "Real Title"),
        ("## Only a section\n\nBody", None),
        ("#NoSpace\n", None),
        ("```\n# inside code\n```\n\n# After Code\n", "After Code"),
        ("", None),
    ],
)
def test_extract_title(text: str, expected: str | None) -> None:
    assert extract_title(text) == expected


def test_plain_text_sections_are_named_by_their_lines_in_capitals() -> None:
    text = (
        "Factory resetting the hub\n\nA reset erases everything.\n\n\nBEFORE YOU START\n\n  1. Back up the hub.\n\n"
        "HOW TO RESET\n\n  1. Press and hold for 15 seconds.\n  2. Release.\n\nNOTE: the LED turns red.\n\nE102 E103\n"
    )
    chunks = chunk_document(text, markup="text", title="Factory resetting the hub", max_chars=1200)
    assert [(c.heading_path, c.text.split("\n")[0].strip()) for c in chunks] == [
        ((), "Factory resetting the hub"),
        (("Before you start",), "1. Back up the hub."),
        # a line with a colon is prose ("NOTE: …"), and codes alone are not a heading either
        (("How to reset",), "1. Press and hold for 15 seconds."),
    ]
    assert "NOTE: the LED turns red." in chunks[2].text and "E102 E103" in chunks[2].text
