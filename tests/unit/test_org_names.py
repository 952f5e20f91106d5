"""The org-name rule that `/support connect ORG` and `supportbot channels bind` share (bot/channels.py)."""

from __future__ import annotations

import pytest

from bot.channels import is_org_name


@pytest.mark.parametrize("name", ["acme", "Acme-EU", "acme.co_uk", "2fast", "a" * 63])
def test_an_org_name_is_letters_digits_dash_dot_underscore_in_any_case(name: str) -> None:
    assert is_org_name(name)


@pytest.mark.parametrize("name", ["", "-acme", ".acme", "acme corp", "acme/eu", "a" * 64, "acmé"])
def test_anything_else_is_not_an_org_name(name: str) -> None:
    assert not is_org_name(name)
