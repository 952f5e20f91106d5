"""The `supportbot` app: every command group registered in one place, in the order `supportbot --help` lists them.

Only this module imports the group modules; they import bot/cli/common.py, never this module or each other
(tests/test_import_boundaries.py checks it).
"""

from __future__ import annotations

import typer

from bot.cli import approvals, channels, chat, db, demo, digest, doctor, escalation, explain, knowledge, run, teams
from bot.cli.eval import answers, fusion, retrieval, routing, scenarios


def _eval_app() -> typer.Typer:
    group = typer.Typer(help="Measure quality on public evaluation sets.", no_args_is_help=True)
    group.command("scenarios")(scenarios.scenarios)
    group.command("history")(scenarios.history)
    group.command("routing")(routing.routing)
    group.command("calibrate-fusion")(fusion.calibrate_fusion)
    group.command("retrieval")(retrieval.retrieval)
    group.command("answers")(answers.answers)
    return group


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="supportbot",
        help="Self-hostable customer support agent: knowledge base, workflows, approvals and digests.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.add_typer(db.app, name="db")
    app.add_typer(_eval_app(), name="eval")
    app.add_typer(escalation.autonomy_app, name="autonomy")
    app.add_typer(approvals.approvals_app, name="approvals")
    app.add_typer(approvals.handoffs_app, name="handoffs")
    app.add_typer(channels.channels_app, name="channels")
    app.command("audit")(escalation.audit)
    app.command("killswitch")(escalation.killswitch)
    knowledge.register(app)
    app.command("chat")(chat.chat)
    app.command("explain")(explain.explain_command)
    run.register(app)
    digest.register(app)
    demo.register(app)
    app.add_typer(teams.teams_app, name="teams")
    app.command("doctor")(doctor.doctor)
    return app
