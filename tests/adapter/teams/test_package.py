"""`supportbot teams package`: the zip validates against the Teams manifest schema (v1.17, vendored)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import jsonschema
import pytest
from PIL import Image
from typer.testing import CliRunner

from bot.cli.commands import build_app

REPO = Path(__file__).resolve().parents[3]
TEAMS = REPO / "manifest" / "teams"
APP_ID = "3f2a1b4c-5d6e-4f70-8192-a3b4c5d6e7f8"


def validator() -> jsonschema.Draft4Validator:
    schema = json.loads((TEAMS / "MicrosoftTeams.schema.v1.17.json").read_text("utf-8"))
    return jsonschema.Draft4Validator(schema)


def test_the_package_is_valid_and_filled_in(tmp_path: Path) -> None:
    target = tmp_path / "out" / "supportbot.zip"
    result = CliRunner().invoke(
        build_app(),
        [
            "teams",
            "package",
            "--app-id",
            APP_ID,
            "--endpoint",
            "https://bot.acme.example",
            "--out",
            str(target),
            "--version",
            "1.2.3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "https://bot.acme.example/api/messages" in result.output
    with zipfile.ZipFile(target) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        color = Image.open(io.BytesIO(archive.read("color.png")))
        outline = Image.open(io.BytesIO(archive.read("outline.png")))
    validator().validate(manifest)
    assert manifest["id"] == APP_ID and [b["botId"] for b in manifest["bots"]] == [APP_ID]
    assert manifest["validDomains"] == ["bot.acme.example"] and manifest["version"] == "1.2.3"
    assert color.size == (192, 192)
    assert outline.size == (32, 32) and outline.mode == "RGBA"
    # outline: white on transparent only
    pixels = {outline.getpixel((x, y)) for x in range(32) for y in range(32)}
    assert pixels <= {(255, 255, 255, 255), (0, 0, 0, 0)} and len(pixels) == 2


def test_the_schema_catches_a_broken_manifest() -> None:
    manifest = json.loads((TEAMS / "manifest.json").read_text("utf-8"))
    validator().validate(manifest)  # the template itself is valid
    broken = {**manifest, "id": "not-a-guid"}
    assert not validator().is_valid(broken)
    assert not validator().is_valid({k: v for k, v in manifest.items() if k != "icons"})


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--app-id", "nope", "--endpoint", "https://bot.acme.example"], "GUID"),
        (["--app-id", APP_ID, "--endpoint", "http://bot.acme.example"], "https"),
    ],
)
def test_bad_input_is_refused(tmp_path: Path, args: list[str], problem: str) -> None:
    result = CliRunner().invoke(build_app(), ["teams", "package", *args, "--out", str(tmp_path / "x.zip")])
    assert result.exit_code != 0 and problem in result.output
    assert not (tmp_path / "x.zip").exists()
