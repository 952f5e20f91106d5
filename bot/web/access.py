"""Who may use the web console: sign-in tokens mapped to people and their roles, and the actor each acts as.

`CONSOLE_TOKEN` signs in the operator as a lead; `CONSOLE_TOKENS` adds people (`TOKEN=PERSON:ROLE[:ORG]`).
With neither set, a token is generated at start-up and printed (local use only: `supportbot run` refuses
a non-local HOST then). Roles, from least to most: a customer sees only their own conversations; staff
see the staff channel and take conversations over; approvers also decide approvals; leads also change
autonomy. What an actor may do is decided by `escalation/` exactly as for Slack and Teams clicks.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from enum import StrEnum

from bot.settings import Settings, SettingsError
from escalation.models import Actor, Role
from escalation.policy import Policy


class ConsoleRole(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    APPROVER = "approver"
    LEAD = "lead"


RANK = {ConsoleRole.CUSTOMER: 0, ConsoleRole.STAFF: 1, ConsoleRole.APPROVER: 2, ConsoleRole.LEAD: 3}
STAFF_ROLES = frozenset({ConsoleRole.STAFF, ConsoleRole.APPROVER, ConsoleRole.LEAD})
EVERYONE = frozenset(ConsoleRole)
OPERATOR = "operator"  # the person CONSOLE_TOKEN (or the generated token) signs in


@dataclass(frozen=True)
class Person:
    id: str
    role: ConsoleRole
    org: str | None = None  # a customer's org (None: a consumer without a business org)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def may_act_as(self, role: ConsoleRole) -> bool:
        """The playground's "who am I" switch: anyone may act with fewer rights than their own, never more."""
        return RANK[role] <= RANK[self.role]


class Access:
    """The configured people. Tokens are compared in constant time and never logged."""

    def __init__(self, people: dict[str, Person], *, generated_token: str | None = None) -> None:
        self._by_token = people
        self.generated_token = generated_token  # printed once by `supportbot run` when no token was configured

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        people: dict[str, Person] = {}
        operator = settings.console_token.get_secret_value().strip() if settings.console_token else ""
        if operator:  # an empty setting is no setting
            people[_token(operator, "CONSOLE_TOKEN")] = Person(OPERATOR, ConsoleRole.LEAD)
        if settings.console_tokens is not None:
            for token, person in parse_tokens(settings.console_tokens.get_secret_value()):
                if token in people:
                    raise SettingsError(f"CONSOLE_TOKENS: {person.id}'s token is given to someone else too")
                if any(known.id == person.id for known in people.values()):
                    raise SettingsError(f"CONSOLE_TOKENS: {person.id} is named twice (a session names one person)")
                people[token] = person
        if people:
            return cls(people)
        generated = secrets.token_urlsafe(18)
        return cls({generated: Person(OPERATOR, ConsoleRole.LEAD)}, generated_token=generated)

    @property
    def configured(self) -> bool:
        return self.generated_token is None

    def person_for(self, token: str) -> Person | None:
        found = None
        for known, person in self._by_token.items():
            # every token is compared, so the time taken does not tell which one came close
            if hmac.compare_digest(known.encode(), token.encode()):
                found = person
        return found

    def person(self, person_id: str) -> Person | None:
        """The person a session names, if they still have a token (removing a token ends their sessions)."""
        return next((p for p in self._by_token.values() if p.id == person_id), None)


def parse_tokens(text: str) -> list[tuple[str, Person]]:
    """`TOKEN=PERSON:ROLE[:ORG],…` → (token, person) pairs; errors name the entry's position, never the token."""
    found: list[tuple[str, Person]] = []
    for number, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        token, _, who = entry.partition("=")
        fields = who.split(":")
        if not token or len(fields) not in (2, 3) or not fields[0]:
            raise SettingsError(f"CONSOLE_TOKENS: entry {number} must read TOKEN=PERSON:ROLE or TOKEN=PERSON:ROLE:ORG")
        try:
            role = ConsoleRole(fields[1])
        except ValueError:
            allowed = ", ".join(r.value for r in ConsoleRole)
            raise SettingsError(f"CONSOLE_TOKENS: entry {number} has role {fields[1]!r}; use {allowed}") from None
        org = fields[2].lower() if len(fields) == 3 and fields[2] else None
        if org is not None and role is not ConsoleRole.CUSTOMER:
            raise SettingsError(f"CONSOLE_TOKENS: entry {number}: only a customer has an org")
        found.append((_token(token, f"CONSOLE_TOKENS entry {number}"), Person(fields[0], role, org)))
    return found


MIN_TOKEN_LENGTH = 12


def _token(token: str, where: str) -> str:
    token = token.strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise SettingsError(f"{where}: a console token needs at least {MIN_TOKEN_LENGTH} characters")
    return token


def is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_token_for(host: str, access: Access) -> None:
    """A console reachable from other machines must not open with a token only the local terminal saw."""
    if not is_local(host) and not access.configured:
        raise SettingsError(
            f"HOST {host} is reachable from other machines: set CONSOLE_TOKEN (or CONSOLE_TOKENS) so the web "
            "console is not opened with a generated token"
        )


def approver_groups(policy: Policy, *, lead_group: str) -> frozenset[str]:
    """The policy's approver groups but the leads': what an approver in the console may decide."""
    groups = {
        approver.removeprefix("group:")
        for workflow in policy.workflows.values()
        for approver in workflow.approvers
        if approver.startswith("group:")
    }
    return frozenset(groups - {lead_group})


def actor_for(person: Person, role: ConsoleRole, *, customer: str | None, policy: Policy, lead_group: str) -> Actor:
    """The actor a click or message is made as: `role` (at most the person's own) and, for a customer, the
    customer they play. The core and escalation decide what that actor may do, as for any platform."""
    if not person.may_act_as(role):
        role = person.role
    if role is ConsoleRole.CUSTOMER:
        who = person.id if person.role is ConsoleRole.CUSTOMER else (customer or f"{person.id}-customer")
        return Actor(who, Role.CUSTOMER, display_name=who)
    if role is ConsoleRole.LEAD:
        return Actor(person.id, Role.LEAD, frozenset({lead_group}), display_name=f"{person.id} (lead)")
    if role is ConsoleRole.APPROVER:
        groups = approver_groups(policy, lead_group=lead_group)
        return Actor(person.id, Role.STAFF, groups, display_name=f"{person.id} (approver)")
    return Actor(person.id, Role.STAFF, display_name=f"{person.id} (staff)")
