"""The doctor's Slack lines: the token (`auth.test`), its scopes (the `X-OAuth-Scopes` header Slack answers
with), the staff and digest channels (`conversations.info`: there, and the bot a member), and whether the
policy's approvers and escalation entries are real people (`usergroups.users.list`, `users.info`)."""

from __future__ import annotations

from collections.abc import Iterable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings
from bot.slack.identity import parse_group_map
from bot.slack.scopes import REQUIRED_BOT_SCOPES
from escalation.readiness import Check, Resolution, failed, passed, warned

PEOPLE_CHECKED_PER_GROUP = 20  # enough to find an active person; a big group is not walked in full


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return f"{type(exc).__name__}: {exc}"


class SlackDoctor:
    def __init__(self, settings: Settings, client: AsyncWebClient) -> None:
        self._settings = settings
        self._client = client
        self._groups = parse_group_map(settings.slack_groups)

    async def checks(self, people: Iterable[str]) -> tuple[list[Check], dict[str, Resolution] | None]:
        """The Slack lines, and what Slack says about each named person (None when the token does not work)."""
        try:
            auth = await self._client.auth_test()
        except (SlackApiError, OSError, TimeoutError) as exc:
            return [
                failed(
                    "slack.auth",
                    f"auth.test at {self._settings.slack_api_base_url} failed: {_error(exc)}",
                    "Set SLACK_BOT_TOKEN to the bot token (xoxb-…) on the app's OAuth & Permissions page.",
                )
            ], None
        checks = [
            passed("slack.auth", f"bot {auth.get('user_id')} in team {auth.get('team')} ({auth.get('team_id')})"),
            self._scopes({str(k).lower(): str(v) for k, v in (auth.headers or {}).items()}),
        ]
        staff = self._settings.slack_staff_channel
        digest = self._settings.slack_digest_channel
        if staff:
            checks.append(await self._channel("slack.staff_channel", staff, "approval and hand-off cards"))
        else:
            checks.append(
                failed(
                    "slack.staff_channel",
                    "SLACK_STAFF_CHANNEL is not set, so approval and hand-off cards have nowhere to go",
                    "Set SLACK_STAFF_CHANNEL to the id of your agents' channel (e.g. C0123ABCD) and invite the bot.",
                )
            )
        if digest and digest != staff:
            checks.append(await self._channel("slack.digest_channel", digest, "the weekly digest"))
        return checks, {entry: await self.resolve(entry) for entry in sorted(set(people))}

    def _scopes(self, headers: dict[str, str]) -> Check:
        header = headers.get("x-oauth-scopes")
        if header is None:
            return warned(
                "slack.scopes",
                "Slack did not say which scopes the token has (no X-OAuth-Scopes header)",
                "Compare the app's scopes on its OAuth & Permissions page with manifest/slack-app.yaml.",
            )
        granted = {scope.strip() for scope in header.split(",") if scope.strip()}
        missing = sorted(REQUIRED_BOT_SCOPES - granted)
        if missing:
            return failed(
                "slack.scopes",
                f"the token lacks {', '.join(missing)}",
                "Add the missing scopes to the app (manifest/slack-app.yaml lists them all) and reinstall it.",
            )
        return passed("slack.scopes", f"all {len(REQUIRED_BOT_SCOPES)} scopes the bot uses are granted")

    async def _channel(self, name: str, channel: str, purpose: str) -> Check:
        try:
            info = (await self._client.conversations_info(channel=channel)).get("channel") or {}
        except (SlackApiError, OSError, TimeoutError) as exc:
            return failed(
                name,
                f"channel {channel} for {purpose} cannot be read: {_error(exc)}",
                f"Check the channel id and invite the bot to it (`/invite @supportbot` in {channel}).",
            )
        label = f"#{info.get('name', channel)} ({channel})"
        if info.get("is_archived"):
            return failed(name, f"{label} for {purpose} is archived", "Unarchive it or choose another channel.")
        if not info.get("is_member"):
            return failed(
                name,
                f"the bot is not in {label}, so {purpose} cannot be posted there",
                f"Invite the bot: `/invite @supportbot` in {label}.",
            )
        return passed(name, f"{label} for {purpose}: exists and the bot is a member")

    async def resolve(self, entry: str) -> Resolution:
        """`group:NAME` → the mapped user group has an active person; a user id → an active person."""
        if not entry.startswith("group:"):
            return await self._person(entry)
        name = entry.removeprefix("group:")
        group = self._groups.get(name)
        if group is None:
            return Resolution(False, f"{name} has no Slack user group in SLACK_GROUPS")
        try:
            members = [
                str(user) for user in (await self._client.usergroups_users_list(usergroup=group)).get("users") or []
            ]
        except (SlackApiError, OSError, TimeoutError) as exc:
            return Resolution(False, f"user group {group} cannot be read ({_error(exc)})")
        for member in members[:PEOPLE_CHECKED_PER_GROUP]:
            if (await self._person(member)).ok:
                return Resolution(True, f"user group {group}, {len(members)} members")
        return Resolution(False, f"user group {group} has no active person among {len(members)} members")

    async def _person(self, user_id: str) -> Resolution:
        try:
            user = (await self._client.users_info(user=user_id)).get("user") or {}
        except (SlackApiError, OSError, TimeoutError) as exc:
            return Resolution(False, f"user {user_id} not found ({_error(exc)})")
        if user.get("deleted") or user.get("is_bot"):
            return Resolution(False, f"user {user_id} is {'deactivated' if user.get('deleted') else 'a bot'}")
        return Resolution(True, f"{user.get('real_name') or user_id}")
