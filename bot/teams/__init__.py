"""Microsoft Teams adapter (Bot Framework `CloudAdapter`): all Bot Framework code lives in this package."""

from bot.teams.app import TEAMS, TeamsRuntime, mount_teams

__all__ = ["TEAMS", "TeamsRuntime", "mount_teams"]
