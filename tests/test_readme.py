"""The README's configuration table lists every setting, and the quick start is the two commands."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")


def test_every_setting_is_in_the_configuration_table() -> None:
    rows = set(re.findall(r"^\| `([A-Z_]+)` \|", README, flags=re.MULTILINE))
    assert rows == {name.upper() for name in Settings.model_fields}


def test_quick_start_is_exactly_make_run_and_make_test() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick_start.strip().splitlines()]
    assert commands == ["make run", "make test"]


def _commands() -> set[tuple[str, ...]]:
    """Every command path the CLI has, e.g. ("run",), ("approvals", "approve")."""
    import typer

    from bot.cli.commands import build_app

    found: set[tuple[str, ...]] = set()

    def walk(group: typer.Typer, prefix: tuple[str, ...]) -> None:
        for command in group.registered_commands:
            found.add((*prefix, command.name or (command.callback.__name__ if command.callback else "")))
        for sub in group.registered_groups:
            assert sub.typer_instance is not None and sub.name is not None
            walk(sub.typer_instance, (*prefix, sub.name))

    walk(build_app(), ())
    return found


def test_every_command_the_readme_names_exists() -> None:
    commands = _commands()
    named = {tuple(words.split()) for words in re.findall(r"`supportbot ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)", README)}
    missing = {words for words in named if words not in commands and words[:1] not in commands}
    assert not missing, f"the README names commands that do not exist: {sorted(missing)}"


def test_the_readme_promises_nothing_as_next_that_is_already_here_and_shows_only_what_exists() -> None:
    intro = README.split("## Quick start", 1)[0]
    assert "next issue" not in intro, "the introduction still calls shipped parts the next issues"
    diagram = README.split("## Architecture", 1)[1].split("```", 2)[1]
    entry_points = re.findall(r"^ (\S[^─┐┘┼]*?)\s+─", diagram, flags=re.MULTILINE)
    assert len(entry_points) == 4, entry_points
    root = Path(__file__).resolve().parent.parent
    shown = {
        "Slack": root / "bot" / "slack",
        "Teams": root / "bot" / "teams",
        "supportbot chat": root / "bot" / "cli" / "chat.py",
        "web playground": root / "bot" / "web" / "playground.py",
    }
    for entry in entry_points:
        backing = [path for name, path in shown.items() if name in entry]
        assert backing and all(path.exists() for path in backing), f"the diagram shows {entry!r}, which is not here"
