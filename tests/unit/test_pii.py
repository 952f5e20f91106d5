"""Personal data and secrets are found in free text; order numbers, dates, amounts and ids are left alone."""

from __future__ import annotations

import pytest

from handlers.pii import redact


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        ("write to jane.doe+billing@example.co.uk today", "write to [email] today", ("email",)),
        ("card 4242 4242 4242 4242, exp 12/29", "card [card], exp 12/29", ("card",)),
        ("card 4111-1111-1111-1111", "card [card]", ("card",)),
        ("call +1 415 555 0100 or 415-555-0100", "call [phone] or [phone]", ("phone",)),
        ("token xoxb-1234-5678-abcdef and sk-proj-abcdefghijklmnop", "token [secret] and [secret]", ("secret",)),
        ("Authorization: Bearer abc.def.ghijklmnop", "Authorization: [secret]", ("secret",)),
    ],
)
def test_personal_data_and_secrets_are_replaced(text: str, expected: str, kinds: tuple[str, ...]) -> None:
    found = redact(text)
    assert (found.text, found.kinds) == (expected, kinds)


@pytest.mark.parametrize(
    "text",
    [
        "Refund $30.00 for order A-10232 on 2026-11-29 11:32:13",
        "event 1800000001.000100 from 127.0.0.1, 16 digits that fail Luhn 4242424242424241",
        "decision dec_0123456789ab in trace 4bf92f3577b34da6a3ce929d0e0e4736",
    ],
)
def test_ids_dates_and_amounts_are_left_alone(text: str) -> None:
    assert redact(text).text == text
