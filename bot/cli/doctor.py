"""`supportbot doctor`: the pre-expansion checklist; exits 1 when any check fails."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Annotated, Any

import typer

from bot.cli.common import run_async, settings
from bot.doctor import DoctorOptions, diagnose
from bot.settings import SettingsError
from escalation.readiness import Check, Status, failed, worst

MARKS = {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL"}


def report(checks: list[Check]) -> dict[str, Any]:
    """The --json document: `ready` is false when anything failed; warnings do not block."""
    counts = Counter(check.status.value for check in checks)
    return {
        "ready": worst(checks) is not Status.FAIL,
        "summary": {status.value: counts.get(status.value, 0) for status in Status},
        "checks": [
            {"name": c.name, "status": c.status.value, "detail": c.detail, "fix": c.fix or None} for c in checks
        ],
    }


def render(checks: list[Check]) -> str:
    """One line per check: its mark, its name, what was found and, unless it passed, the fix."""
    width = max(len(check.name) for check in checks)
    lines = [
        f"{MARKS[c.status]}  {c.name:<{width}}  {c.detail}" + (f"  → {c.fix}" if c.status is not Status.PASS else "")
        for c in checks
    ]
    summary = report(checks)["summary"]
    verdict = "ready" if summary["fail"] == 0 else "NOT ready: fix every FAIL line first"
    lines.append(f"{summary['pass']} pass, {summary['warn']} warn, {summary['fail']} fail: {verdict}")
    return "\n".join(lines)


@run_async
async def doctor(
    json_output: Annotated[bool, typer.Option("--json", help="One JSON document instead of lines.")] = False,
    drill: Annotated[
        bool, typer.Option("--drill", help="Run every action and its rollback in a sandbox; check the audit trail.")
    ] = False,
) -> None:
    """The pre-expansion checklist: settings, storage, Slack/Teams, model, policy, knowledge, audit, digest."""
    try:
        checks = await diagnose(settings(), DoctorOptions(drill=drill))
    except SettingsError as exc:  # nothing else can be checked without settings
        checks = [failed("settings", str(exc), "Fix the named setting in the environment or .env.")]
    sys.stdout.write((json.dumps(report(checks), indent=2) if json_output else render(checks)) + "\n")
    if worst(checks) is Status.FAIL:
        raise typer.Exit(1)
