"""YAML front matter: parsing, validation and error messages."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from knowledge.errors import UnreadableDocument
from knowledge.frontmatter import meta_from_mapping, split_front_matter
from knowledge.models import DocumentMeta

FULL = """\
---
title: Refund policy
owner: alice@example.com
org: ACME-Corp
source_url: https://help.example.com/refunds
review_by: 2030-05-01
tags: [Billing, refunds]
colour: blue
nested: {a: 1}
---
# Refund policy

Body text.
"""


def test_valid_front_matter_is_split_from_body() -> None:
    raw, body = split_front_matter(FULL)
    assert body == "# Refund policy\n\nBody text.\n"
    assert raw["title"] == "Refund policy"
    assert raw["review_by"] == date(2030, 5, 1)
    assert raw["colour"] == "blue"


def test_valid_fields_become_document_meta() -> None:
    raw, _ = split_front_matter(FULL)
    assert meta_from_mapping(raw) == DocumentMeta(
        title="Refund policy",
        owner="alice@example.com",
        org="acme-corp",
        source_url="https://help.example.com/refunds",
        review_by=date(2030, 5, 1),
        tags=("billing", "refunds"),
    )


def test_no_front_matter_returns_text_unchanged() -> None:
    text = "# Title\n---\nnot front matter\n"
    assert split_front_matter(text) == ({}, text)
    assert split_front_matter("") == ({}, "")


def test_empty_front_matter_and_dots_closer() -> None:
    assert split_front_matter("---\n---\nBody\n") == ({}, "Body\n")
    assert split_front_matter("---\ntitle: X\n...\nBody\n") == ({"title": "X"}, "Body\n")


def test_non_string_keys_are_stringified() -> None:
    raw, _ = split_front_matter("---\n2024: yes\n---\n")
    assert raw == {"2024": True}


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["Billing", "VIP", 7], ("billing", "vip", "7")),
        ("billing, Refunds ,  , vip", ("billing", "refunds", "vip")),
        ("single", ("single",)),
        ([], ()),
    ],
)
def test_tags_as_list_or_comma_string(tags: object, expected: tuple[str, ...]) -> None:
    assert meta_from_mapping({"tags": tags}).tags == expected


def test_tags_of_another_type_are_rejected() -> None:
    with pytest.raises(UnreadableDocument, match="'tags' must be a list or comma-separated text"):
        meta_from_mapping({"tags": 5})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2031, 1, 2), date(2031, 1, 2)),
        (datetime(2031, 1, 2, 15, 30), date(2031, 1, 2)),
        ("2031-01-02", date(2031, 1, 2)),
        (" 2031-01-02 ", date(2031, 1, 2)),
    ],
)
def test_review_by_accepts_dates_datetimes_and_iso_strings(value: object, expected: date) -> None:
    assert meta_from_mapping({"review_by": value}).review_by == expected


@pytest.mark.parametrize("value", ["next spring", "2031-13-01", "01/02/2031", 2031])
def test_bad_review_by_names_the_field_and_format(value: object) -> None:
    with pytest.raises(UnreadableDocument) as caught:
        meta_from_mapping({"review_by": value})
    message = str(caught.value)
    assert "'review_by' is not a date (YYYY-MM-DD)" in message
    assert repr(value) in message


def test_unknown_keys_are_ignored() -> None:
    meta = meta_from_mapping({"title": "X", "colour": ["blue"], "layout": {"a": 1}, "author": "bob"})
    assert meta == DocumentMeta(title="X")


def test_empty_values_count_as_missing() -> None:
    assert meta_from_mapping({"title": "", "owner": None, "org": "   ", "tags": ""}) == DocumentMeta()


def test_org_is_lower_cased_and_text_is_stripped() -> None:
    meta = meta_from_mapping({"org": "  Globex  ", "title": "  Padded  ", "owner": 42})
    assert (meta.org, meta.title, meta.owner) == ("globex", "Padded", "42")


@pytest.mark.parametrize(("value", "kind"), [(["a", "b"], "list"), ({"a": 1}, "dict")])
def test_structured_value_for_text_field_is_rejected(value: object, kind: str) -> None:
    with pytest.raises(UnreadableDocument, match=rf"field 'title' must be text, not a {kind}"):
        meta_from_mapping({"title": value})


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("---\ntitle: ok\nx: : :\n---\nbody", 3),
        ("---\na: 1\n b: 2\n---\n", 3),
        ("---\na: 1\nb: 2\nc: 3\nd: : x\n---\n", 5),
    ],
)
def test_malformed_yaml_reports_the_file_line(text: str, line: int) -> None:
    with pytest.raises(UnreadableDocument, match=rf"^malformed front matter at line {line}: "):
        split_front_matter(text)


def test_malformed_yaml_message_carries_the_yaml_problem() -> None:
    with pytest.raises(UnreadableDocument) as caught:
        split_front_matter("---\ntitle: ok\nx: : :\n---\n")
    assert "mapping values are not allowed here" in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_unclosed_front_matter() -> None:
    with pytest.raises(UnreadableDocument, match="front matter starts with '---' but is never closed"):
        split_front_matter("---\ntitle: Refunds\n\n# Refunds\nBody\n")


@pytest.mark.parametrize("header", ["- a\n- b\n", "just some words\n", "42\n"])
def test_front_matter_that_is_not_a_mapping(header: str) -> None:
    with pytest.raises(UnreadableDocument, match="expected 'key: value' lines"):
        split_front_matter(f"---\n{header}---\nBody\n")
