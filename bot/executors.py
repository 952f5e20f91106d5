"""Chooses the action executors from settings: your HTTP webhook and/or, to try the product, the sample
company's demo back end (opt-in: DEMO_BACKEND)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.demo.backend import DemoBackend
from bot.settings import Settings, SettingsError
from escalation.executors import ExecutorConflict, ExecutorRegistry
from escalation.policy import Policy
from escalation.webhook import WebhookExecutor
from knowledge.store import Pool

SOURCES = {"demo": "the demo back end (DEMO_BACKEND)", "webhook": "your webhook (WEBHOOK_ACTIONS)"}


@asynccontextmanager
async def open_executors(settings: Settings, pool: Pool, *, dry_run: bool = False) -> AsyncIterator[ExecutorRegistry]:
    """`dry_run`: the webhook marks every request as a drill (the demo back end is made safe by its pool)."""
    registry = ExecutorRegistry()
    if settings.demo_backend:
        demo = DemoBackend(pool)
        await demo.ensure_seeded()
        registry.register(demo)
    webhook = None
    if settings.webhook_url:
        if settings.webhook_secret is None or not settings.webhook_action_names:
            raise SettingsError("WEBHOOK_URL needs WEBHOOK_SECRET and WEBHOOK_ACTIONS (e.g. refund,cancel_order)")
        webhook = WebhookExecutor(
            url=settings.webhook_url,
            secret=settings.webhook_secret.get_secret_value(),
            actions=settings.webhook_action_names,
            timeout=settings.webhook_timeout,
            max_attempts=settings.webhook_max_attempts,
            dry_run=dry_run,
        )
        try:
            registry.register(webhook)
        except ExecutorConflict as exc:
            await webhook.close()
            raise SettingsError(
                f"`{exc.action}` would be run by both {SOURCES[exc.first]} and {SOURCES[exc.second]}: "
                "choose one (turn DEMO_BACKEND off for a real back end)"
            ) from None
    try:
        yield registry
    finally:
        if webhook is not None:
            await webhook.close()


def require_executors(policy: Policy, registry: ExecutorRegistry, *, policy_file: str) -> None:
    """Every action the policy can run (and every rollback) has a real executor, or the bot does not start:
    a customer must never be told "done" for an action nothing performs."""
    declared = {name for workflow in policy.workflows.values() for name in (workflow.action, workflow.rollback) if name}
    missing = sorted(declared - registry.known())
    if missing:
        raise SettingsError(
            f"{policy_file} declares {', '.join(f'`{name}`' for name in missing)} but nothing runs "
            f"{'it' if len(missing) == 1 else 'them'}: set WEBHOOK_URL, WEBHOOK_SECRET and WEBHOOK_ACTIONS to your "
            "back end, or DEMO_BACKEND=true to try the sample company's demo data"
        )
