"""`supportbot teams package`: the zip a Teams admin uploads, with the app id and the bot's domain filled in."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.console import Console

from bot.cli.common import settings

teams_app = typer.Typer(help="Microsoft Teams: the app package.", no_args_is_help=True)
out = Console(highlight=False)
MANIFEST_DIR = Path(__file__).resolve().parents[2] / "manifest" / "teams"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
FILES = ("manifest.json", "color.png", "outline.png")


def build_manifest(template: dict[str, Any], *, app_id: str, endpoint: str, version: str | None) -> dict[str, Any]:
    """The template with the Azure bot's app id, the endpoint's host as the valid domain, and a version."""
    if not GUID.match(app_id):
        raise typer.BadParameter("the app id must be the Azure bot's GUID (MICROSOFT_APP_ID)", param_hint="--app-id")
    parts = urlsplit(endpoint)
    if parts.scheme != "https" or not parts.hostname:
        raise typer.BadParameter(
            "must be the bot's public https URL, e.g. https://bot.example.com", param_hint="--endpoint"
        )
    manifest: dict[str, Any] = json.loads(json.dumps(template))
    manifest["id"] = app_id
    for bot in manifest["bots"]:
        bot["botId"] = app_id
    manifest["validDomains"] = [parts.hostname]
    if version:
        manifest["version"] = version
    return manifest


@teams_app.command("package")
def package(
    endpoint: Annotated[
        str, typer.Option(help="The bot's public https URL (its messaging endpoint is /api/messages).")
    ],
    app_id: Annotated[str | None, typer.Option(help="Azure bot app id (default: MICROSOFT_APP_ID).")] = None,
    version: Annotated[str | None, typer.Option(help="App version, e.g. 1.0.1 (raise it for every upload).")] = None,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the zip.")] = Path("supportbot-teams.zip"),
) -> None:
    """Write the Teams app package (manifest.json, color.png, outline.png) for Teams admin centre upload."""
    chosen = app_id or settings().microsoft_app_id
    if not chosen:
        raise typer.BadParameter("set MICROSOFT_APP_ID or pass --app-id", param_hint="--app-id")
    template = json.loads((MANIFEST_DIR / "manifest.json").read_text("utf-8"))
    manifest = build_manifest(template, app_id=chosen, endpoint=endpoint, version=version)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out_file, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for name in FILES[1:]:
            archive.write(MANIFEST_DIR / name, name)
    messaging = endpoint.rstrip("/") + "/api/messages"
    out.print(f"wrote {out_file} (app {chosen}, version {manifest['version']})")
    out.print(f"set the Azure bot's messaging endpoint to {messaging}, then upload the zip in Teams admin centre")
