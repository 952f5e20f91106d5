"""The Slack app manifests grant every scope the adapter's Web API calls need, and the two variants agree."""

from __future__ import annotations

import ast
import inspect
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient

REPO = Path(__file__).resolve().parents[2]
HTTP = REPO / "manifest" / "slack-app.yaml"
SOCKET = REPO / "manifest" / "slack-app-socket-mode.yaml"
# Only bot/ may import slack_sdk (tests/unit/test_imports.py), so every Web API call the bot makes is under it.
BOT = REPO / "bot"
ADAPTER = BOT / "slack"

# Web API method → the bot scopes it needs (docs.slack.dev/reference/methods). A call to a method missing
# here fails the test: look its scopes up, add them here and to both manifests.
SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    "apps.connections.open": set(),  # app-level token (connections:write), not a bot scope
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "chat.delete": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "chat.getPermalink": set(),
    "views.open": set(),
    "views.update": set(),
    "views.push": set(),
    "views.publish": set(),
    "reactions.add": {"reactions:write"},
    "reactions.remove": {"reactions:write"},
    "usergroups.users.list": {"usergroups:read"},
    "usergroups.list": {"usergroups:read"},
    "users.info": {"users:read"},
    # public and private channels (Slack Connect channels can be either)
    "conversations.info": {"channels:read", "groups:read"},
    "conversations.members": {"channels:read", "groups:read"},
    "conversations.replies": {"channels:history", "groups:history"},
    "conversations.open": {"im:write"},
    "team.info": {"team:read"},
    "files.getUploadURLExternal": {"files:write"},
    "files.completeUploadExternal": {"files:write"},
}
EVENT_SCOPES = {
    "message.channels": {"channels:history"},
    "message.groups": {"groups:history"},
    "message.im": {"im:history"},
    "message.mpim": {"mpim:history"},
    "app_mention": {"app_mentions:read"},
    "member_joined_channel": {"channels:read", "groups:read"},
}
URL = "https://YOUR-HOST/slack/events"


def load(path: Path) -> dict[str, Any]:
    manifest = yaml.safe_load(path.read_text("utf-8"))
    assert isinstance(manifest, dict)
    return manifest


def scopes(manifest: dict[str, Any]) -> set[str]:
    return set(manifest["oauth_config"]["scopes"]["bot"])


@cache
def api_methods(name: str) -> frozenset[str]:
    """The Web API methods an AsyncWebClient method calls, read from slack_sdk's own source
    (files_upload_v2 calls three: two API methods and an upload)."""
    function = getattr(AsyncWebClient, name, None)
    if function is None or not callable(function):
        return frozenset()
    source = inspect.getsource(function)
    found = set(re.findall(r"api_call\(\s*\"([\w.]+)\"", source))
    for helper in re.findall(r"self\.(\w+)\(", source):
        if helper != name and helper not in {"api_call", "_upload_file"}:
            found |= api_methods(helper)
    return frozenset(found)


WEB_API = frozenset(name for name in dir(AsyncWebClient) if not name.startswith("_") and name != "api_call")


def adapter_calls(root: Path = BOT) -> dict[str, set[str]]:
    """Web API method → the files under `root` that call it: any `<x>.<AsyncWebClient method>(…)`,
    `<x>.api_call("…")` and Bolt's `say(…)`. A call whose method cannot be read (`api_call(name)`) fails."""
    calls: dict[str, set[str]] = {}
    files = sorted(root.rglob("*.py"))
    assert files, f"no Python files under {root}"
    for path in files:
        where = str(path.relative_to(root))
        for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            methods: set[str] = set()
            if isinstance(node.func, ast.Attribute) and node.func.attr in WEB_API:
                methods = set(api_methods(node.func.attr))
                assert methods, f"{where}:{node.lineno}: cannot tell which Web API method {node.func.attr} calls"
            elif isinstance(node.func, ast.Attribute) and node.func.attr == "api_call":
                named = [k.value for k in node.keywords if k.arg == "api_method"]
                first = node.args[0] if node.args else next(iter(named), None)
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                    f"{where}:{node.lineno}: api_call with a method name computed at run time; name it literally"
                )
                methods = {first.value}
            elif isinstance(node.func, ast.Name) and node.func.id == "say":
                methods = {"chat.postMessage"}
            for method in methods:
                calls.setdefault(method, set()).add(f"{where}:{node.lineno}")
    return calls


def test_both_manifests_parse_and_name_the_bot() -> None:
    for path in (HTTP, SOCKET):
        manifest = load(path)
        assert manifest["display_information"]["name"] == "Supportbot"
        assert manifest["features"]["bot_user"]["display_name"] == "Supportbot"
        assert 174 <= len(manifest["display_information"]["long_description"]) <= 4000  # Slack rejects shorter
        assert len(manifest["display_information"]["description"]) <= 140


def test_the_scanner_reads_files_upload_v2_and_api_call(tmp_path: Path) -> None:
    (tmp_path / "adapter.py").write_text(
        "await self._client.files_upload_v2(channel=c, content=b)\n"
        "await client.api_call('reactions.add', params={})\n"
        "await say(text='hi')\n"
        "await self._sender.client.views_open(trigger_id=t, view=v)\n"
    )
    assert set(adapter_calls(tmp_path)) == {
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
        "reactions.add",
        "chat.postMessage",
        "views.open",
    }


def test_the_scanner_refuses_a_method_name_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "adapter.py").write_text("await client.api_call(method, params={})\n")
    with pytest.raises(AssertionError, match="computed at run time"):
        adapter_calls(tmp_path)


def test_the_scanner_fails_on_a_folder_without_code(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="no Python files"):
        adapter_calls(tmp_path / "slack")


def test_the_scan_reads_the_slack_adapter_where_it_is() -> None:
    # the adapter can't answer anyone without chat.postMessage: finding none means the scan reads the wrong place
    assert ADAPTER.is_dir(), f"{ADAPTER} is gone: point ADAPTER at the Slack adapter's new place"
    calls = adapter_calls(ADAPTER)
    assert "chat.postMessage" in calls, f"no chat.postMessage call found under {ADAPTER}: {sorted(calls)}"


def test_every_web_api_call_of_the_bot_has_its_scopes() -> None:
    calls = adapter_calls()
    assert calls, f"no Slack Web API call found under {BOT}"
    unknown = {method: files for method, files in calls.items() if method not in SCOPES}
    assert not unknown, f"add these methods' scopes to SCOPES and both manifests: {unknown}"
    for path in (HTTP, SOCKET):
        granted = scopes(load(path))
        missing = {method: SCOPES[method] - granted for method in calls if SCOPES[method] - granted}
        assert not missing, f"{path.name} lacks scopes for {missing} (called in {[calls[m] for m in missing]})"


@pytest.mark.parametrize("path", [HTTP, SOCKET], ids=["http", "socket-mode"])
def test_events_and_the_support_command_are_there_with_their_scopes(path: Path) -> None:
    manifest = load(path)
    granted = scopes(manifest)
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert events == set(EVENT_SCOPES)
    for event in events:
        assert EVENT_SCOPES[event] <= granted, f"{event} needs {EVENT_SCOPES[event] - granted}"
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/support"
    assert command["usage_hint"] == "status | handoff | explain DECISION_ID | autonomy | connect ORG"
    assert "commands" in granted
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True  # customers may DM the bot


def test_http_mode_points_every_url_at_the_events_endpoint() -> None:
    manifest = load(HTTP)
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["event_subscriptions"]["request_url"] == URL
    assert settings["interactivity"]["request_url"] == URL
    assert manifest["features"]["slash_commands"][0]["url"] == URL


def test_socket_mode_has_no_request_urls_and_otherwise_matches() -> None:
    http, socket = load(HTTP), load(SOCKET)
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in socket["settings"]["event_subscriptions"]
    assert "request_url" not in socket["settings"]["interactivity"]
    assert "url" not in socket["features"]["slash_commands"][0]
    assert "YOUR-HOST" not in SOCKET.read_text("utf-8")

    # apart from the URLs and the mode, the two are the same app
    def without_urls(manifest: dict[str, Any]) -> dict[str, Any]:
        settings = dict(manifest["settings"])
        settings["event_subscriptions"] = {
            k: v for k, v in settings["event_subscriptions"].items() if k != "request_url"
        }
        settings["interactivity"] = {k: v for k, v in settings["interactivity"].items() if k != "request_url"}
        settings.pop("socket_mode_enabled")
        features = dict(manifest["features"])
        features["slash_commands"] = [{k: v for k, v in c.items() if k != "url"} for c in features["slash_commands"]]
        return {**manifest, "settings": settings, "features": features}

    assert without_urls(http) == without_urls(socket)
