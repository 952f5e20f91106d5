"""Who clicked or wrote: an `Actor` with a role and the policy groups they belong to.

Staff are members of the staff teams (the installing team by default); everyone else is a customer,
including every Slack Connect guest. Policy groups map to Slack user groups, whose members are
fetched with `usergroups.users.list` and cached: an approval click must not wait on Slack each time.
"""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from escalation.models import Actor, Role

log = logging.getLogger(__name__)

GROUP_TTL_SECONDS = 300.0


def parse_group_map(text: str) -> dict[str, str]:
    """`support-leads=S0123,billing=S0456` → {"support-leads": "S0123", "billing": "S0456"}."""
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {name.strip(): group.strip() for name, group in pairs if name.strip() and group.strip()}


class SlackDirectory:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        staff_teams: frozenset[str],
        groups: dict[str, str],
        lead_group: str,
        ttl: float = GROUP_TTL_SECONDS,
    ) -> None:
        self._client = client
        self._staff_teams = staff_teams
        self._groups = groups
        self._lead_group = lead_group
        self._ttl = ttl
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._teams: dict[str, str | None] = {}

    async def team_of(self, user_id: str) -> str | None:
        """The user's own team (`users.info`), for events that do not say it; None if Slack will not tell."""
        if user_id not in self._teams:
            try:
                response = await self._client.users_info(user=user_id)
                self._teams[user_id] = (response.get("user") or {}).get("team_id")
            except (SlackApiError, OSError, TimeoutError) as exc:
                log.warning("cannot look up the team of %s: %s", user_id, exc)
                return None  # not cached: ask again next time
        return self._teams[user_id]

    def is_staff_team(self, team_id: str | None, *, installing_team: str | None) -> bool:
        if not team_id:
            return False  # unknown team: treat as a customer, the safe side
        if self._staff_teams:
            return team_id in self._staff_teams
        return team_id == installing_team

    async def actor(self, user_id: str, *, team_id: str | None, installing_team: str | None) -> Actor:
        if not self.is_staff_team(team_id, installing_team=installing_team):
            return Actor(user_id, Role.CUSTOMER)
        groups = frozenset([name for name, group in self._groups.items() if user_id in await self._members_of(group)])
        role = Role.LEAD if self._lead_group in groups else Role.STAFF
        return Actor(user_id, role, groups)

    async def _members_of(self, group: str) -> frozenset[str]:
        cached = self._members.get(group)
        if cached and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        try:
            response = await self._client.usergroups_users_list(usergroup=group)
            members = frozenset(str(user) for user in response.get("users") or [])
        except (SlackApiError, OSError, TimeoutError) as exc:
            # fail closed: nobody is in a group we cannot read; keep an older answer if there is one
            log.warning("cannot read Slack user group %s: %s", group, exc)
            return cached[1] if cached else frozenset()
        self._members[group] = (time.monotonic(), members)
        return members
