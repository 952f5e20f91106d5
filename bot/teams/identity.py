"""Who is writing or clicking in Teams: an `Actor` (customer, staff or lead) and the customer's tenant."""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings, SettingsError
from escalation.models import Actor, Role


def parse_groups(raw: str) -> dict[str, frozenset[str]]:
    """`support-leads=aad1;aad2,billing=aad3` → {"support-leads": {"aad1", "aad2"}, "billing": {"aad3"}}."""
    groups: dict[str, frozenset[str]] = {}
    for part in filter(None, (piece.strip() for piece in raw.split(","))):
        name, sep, members = part.partition("=")
        if not sep or not name.strip():
            raise SettingsError(f"TEAMS_GROUPS: {part!r} is not NAME=aad-object-id;aad-object-id")
        groups[name.strip()] = frozenset(m.strip().lower() for m in members.split(";") if m.strip())
    return groups


@dataclass(frozen=True)
class Directory:
    """Staff tenants and policy groups, from settings; object ids compare case-insensitively (GUIDs)."""

    staff_tenants: frozenset[str]
    groups: dict[str, frozenset[str]]
    lead_group: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Directory:
        tenants = {t.strip().lower() for t in settings.teams_staff_tenants.split(",") if t.strip()}
        if not tenants and settings.microsoft_app_tenant_id:
            tenants = {settings.microsoft_app_tenant_id.lower()}
        return cls(frozenset(tenants), parse_groups(settings.teams_groups), settings.lead_group)

    def actor(self, *, user_id: str, aad_object_id: str | None, name: str | None, home_tenant: str | None) -> Actor:
        """Staff are members of a staff tenant; leads are staff in the lead group. The id is the AAD object id
        when Teams sends one (what `approvers` in the policy name), else the Teams user id."""
        ident = (aad_object_id or user_id).lower()
        if not home_tenant or home_tenant.lower() not in self.staff_tenants:
            return Actor(ident, Role.CUSTOMER, display_name=name)
        groups = frozenset(group for group, members in self.groups.items() if ident in members)
        role = Role.LEAD if self.lead_group in groups else Role.STAFF
        return Actor(ident, role, groups, name)
