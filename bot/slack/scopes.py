"""The bot scopes the Slack adapter's calls and events need: what manifest/slack-app.yaml grants (a unit test
keeps the two equal) and what `supportbot doctor` asks the installed token for."""

from __future__ import annotations

REQUIRED_BOT_SCOPES = frozenset(
    {
        "app_mentions:read",
        "channels:history",
        "channels:read",
        "chat:write",
        "commands",
        "files:write",
        "groups:history",
        "groups:read",
        "im:history",
        "im:write",
        "mpim:history",
        "reactions:write",
        "team:read",
        "usergroups:read",
        "users:read",
    }
)
