"""Console access: how tokens map to people, whom they may act as, and when `supportbot run` refuses to start."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from bot.web.access import Access, ConsoleRole, Person, actor_for, parse_tokens, require_token_for
from escalation.models import Role
from escalation.policy import load_policy

POLICY = load_policy(Path(__file__).resolve().parents[2] / "examples" / "policy" / "acme.yaml")


def test_tokens_map_to_people_with_roles_and_a_customers_org() -> None:
    found = parse_tokens("t-0123456789ab=maria:approver, t-customer-0001=cus_1011:customer:Globex")
    assert found == [
        ("t-0123456789ab", Person("maria", ConsoleRole.APPROVER)),
        ("t-customer-0001", Person("cus_1011", ConsoleRole.CUSTOMER, "globex")),
    ]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("t-0123456789ab=maria", "must read TOKEN=PERSON:ROLE"),
        ("t-0123456789ab=maria:owner", "has role 'owner'"),
        ("short=maria:staff", "at least 12 characters"),
        ("t-0123456789ab=maria:staff:globex", "only a customer has an org"),
    ],
)
def test_a_wrong_entry_is_named_without_its_token(text: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says) as raised:
        parse_tokens(text)
    assert "0123456789ab" not in str(raised.value)


def test_without_a_configured_token_one_is_generated_for_a_lead() -> None:
    access = Access.from_settings(load_settings())
    assert access.generated_token and not access.configured
    assert access.person_for(access.generated_token) == Person("operator", ConsoleRole.LEAD)
    assert access.person_for(access.generated_token + "x") is None


def test_a_console_open_to_other_machines_needs_a_configured_token() -> None:
    generated = Access.from_settings(load_settings())
    require_token_for("127.0.0.1", generated)
    require_token_for("localhost", generated)
    with pytest.raises(SettingsError, match="set CONSOLE_TOKEN"):
        require_token_for("0.0.0.0", generated)
    configured = Access.from_settings(load_settings(console_token="a-token-of-our-own"))
    require_token_for("0.0.0.0", configured)


def test_nobody_acts_with_more_rights_than_their_own() -> None:
    staff = Person("sam", ConsoleRole.STAFF)
    as_lead = actor_for(staff, ConsoleRole.LEAD, customer=None, policy=POLICY, lead_group="support-leads")
    assert (as_lead.role, as_lead.groups) == (Role.STAFF, frozenset())
    customer = Person("cus_1011", ConsoleRole.CUSTOMER, "globex")
    played = actor_for(customer, ConsoleRole.APPROVER, customer="cus_9999", policy=POLICY, lead_group="support-leads")
    assert (played.id, played.role) == ("cus_1011", Role.CUSTOMER)


def test_an_approver_decides_for_the_policys_groups_but_the_leads() -> None:
    maria = Person("maria", ConsoleRole.APPROVER)
    actor = actor_for(maria, ConsoleRole.APPROVER, customer=None, policy=POLICY, lead_group="support-leads")
    assert actor.role is Role.STAFF and "billing" in actor.groups and "support-leads" not in actor.groups
    lead = actor_for(
        Person("lena", ConsoleRole.LEAD),
        ConsoleRole.CUSTOMER,
        customer="cus_1011",
        policy=POLICY,
        lead_group="support-leads",
    )
    assert (lead.id, lead.role) == ("cus_1011", Role.CUSTOMER)


def test_one_token_and_one_name_per_person() -> None:
    with pytest.raises(SettingsError, match="given to someone else"):
        Access.from_settings(load_settings(console_tokens="t-0123456789ab=maria:staff,t-0123456789ab=sam:staff"))
    with pytest.raises(SettingsError, match="maria is named twice"):
        Access.from_settings(load_settings(console_tokens="t-0123456789ab=maria:staff,t-0123456789cd=maria:lead"))


def test_supportbot_run_on_an_address_other_machines_reach_needs_a_console_token() -> None:
    from typer.testing import CliRunner

    from bot.cli.commands import build_app

    result = CliRunner().invoke(build_app(), ["run", "--host", "0.0.0.0", "--port", "1"], env={"CONSOLE_TOKEN": ""})
    assert result.exit_code == 1
    assert "HOST 0.0.0.0 is reachable from other machines: set CONSOLE_TOKEN" in result.output
