"""The `supportbot` command (pyproject's console script `bot.cli:main`).

One module per command group; they share bot/cli/common.py and nothing else of this package, and
bot/cli/commands.py registers them on the app. Nothing here imports a group, so importing one group (a test, the
worker child) loads that group and common.py, not the whole command line.
"""

from __future__ import annotations


def main() -> None:
    from bot.cli.commands import build_app

    build_app()()
