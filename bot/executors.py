"""Chooses the action executors from settings: the demo back end and/or your HTTP webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.settings import Settings, SettingsError
from escalation.demo_backend import DemoBackend
from escalation.executors import ExecutorRegistry
from escalation.webhook import WebhookExecutor
from knowledge.store import Pool


@asynccontextmanager
async def open_executors(settings: Settings, pool: Pool) -> AsyncIterator[ExecutorRegistry]:
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
        )
        registry.register(webhook)  # after the demo back end: the webhook wins for its actions
    try:
        yield registry
    finally:
        if webhook is not None:
            await webhook.close()
