"""The doctor's Teams lines: the bot's credentials get a Bot Framework token (from the login service the
adapter is configured with), the staff channel is set, and the policy's people are members of the staff
channel's team (the Bot Connector's member look-up)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity

from bot.settings import Settings, SettingsError
from bot.teams.auth import build_adapter
from bot.teams.identity import parse_groups
from escalation.readiness import Check, Resolution, Status, failed, passed

FIX_CREDENTIALS = (
    "Check MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD (or the certificate), MICROSOFT_APP_TYPE and "
    "MICROSOFT_APP_TENANT_ID against the Azure bot registration."
)


async def teams_checks(settings: Settings, people: Iterable[str]) -> tuple[list[Check], dict[str, Resolution] | None]:
    """The Teams lines, and what Teams says about each named person (None when no token could be got)."""
    app_id = settings.microsoft_app_id or ""
    try:
        adapter = build_adapter(settings)
    except SettingsError as exc:
        return [failed("teams.token", str(exc), FIX_CREDENTIALS)], None
    identity = ClaimsIdentity(
        {AuthenticationConstants.AUDIENCE_CLAIM: app_id, AuthenticationConstants.APP_ID_CLAIM: app_id}, True
    )
    factory = adapter.bot_framework_authentication.create_connector_factory(identity)
    client: Any = await factory.create(settings.teams_service_url)
    try:
        return await _with_client(settings, client, people)
    finally:
        await client.__aexit__(None, None, None)  # closes its aiohttp session
        # MSAL keeps its login connection open for the credentials' lifetime (a process's, in the bot)
        msal = getattr(client.config.credentials, "app", None)
        if msal is not None:
            msal.http_client.close()


async def _with_client(
    settings: Settings, client: Any, people: Iterable[str]
) -> tuple[list[Check], dict[str, Resolution] | None]:
    app_id = settings.microsoft_app_id or ""
    try:
        # MSAL is synchronous (requests): off the event loop
        await asyncio.to_thread(client.config.credentials.get_access_token)
    except Exception as exc:  # MSAL and botbuilder raise PermissionError, ValueError, requests' errors alike
        return [failed("teams.token", f"no Bot Framework token for app {app_id}: {exc}", FIX_CREDENTIALS)], None
    checks = [passed("teams.token", f"app {app_id} got a Bot Framework token")]
    staff = settings.teams_staff_conversation
    if not staff:
        checks.append(
            failed(
                "teams.staff_channel",
                "TEAMS_STAFF_CONVERSATION is not set, so approval and hand-off cards have nowhere to go on Teams",
                "Set TEAMS_STAFF_CONVERSATION to the agents' channel id (19:…@thread.tacv2), the bot installed "
                "in its team.",
            )
        )
        return checks, None
    channel = await _channel(client, "teams.staff_channel", staff, "approval and hand-off cards")
    checks.append(channel)
    digest = settings.teams_digest_conversation
    if digest and digest != staff:
        checks.append(await _channel(client, "teams.digest_channel", digest, "the weekly digest"))
    if channel.status is not Status.PASS:
        return checks, None
    groups = parse_groups(settings.teams_groups)
    found = {entry: await _resolve(client, staff, groups, entry) for entry in sorted(set(people))}
    return checks, found


async def _channel(client: Any, name: str, conversation: str, purpose: str) -> Check:
    try:  # only a conversation the bot is in lets it list the members
        members = await client.conversations.get_conversation_members(conversation)
    except Exception as exc:  # the connector raises ErrorResponseException, aiohttp errors, …
        return failed(
            name,
            f"{conversation} for {purpose} cannot be read ({exc})",
            "Check the conversation id and install the bot in that channel's team.",
        )
    return passed(name, f"{conversation} for {purpose}: the bot is in it ({len(members)} members)")


async def _resolve(client: Any, conversation: str, groups: dict[str, frozenset[str]], entry: str) -> Resolution:
    if not entry.startswith("group:"):
        return await _member(client, conversation, entry)
    name = entry.removeprefix("group:")
    ids = groups.get(name)
    if not ids:
        return Resolution(False, f"{name} has no AAD object ids in TEAMS_GROUPS")
    for aad_id in sorted(ids):
        if (await _member(client, conversation, aad_id)).ok:
            return Resolution(True, f"{len(ids)} AAD ids")
    return Resolution(False, f"none of {name}'s {len(ids)} AAD ids is a member of the staff channel's team")


async def _member(client: Any, conversation: str, member_id: str) -> Resolution:
    try:
        member = await client.conversations.get_conversation_member(conversation, member_id)
    except Exception as exc:  # the connector raises ErrorResponseException, aiohttp errors, …
        return Resolution(False, f"{member_id} is not a member of the staff channel's team ({type(exc).__name__})")
    return Resolution(True, str(getattr(member, "name", None) or member_id))
