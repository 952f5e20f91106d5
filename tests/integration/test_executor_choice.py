"""Which executor runs an action is the operator's explicit choice: the demo back end is opt-in, two
executors never silently share an action, and a policy action with no executor stops the bot starting."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.executors import open_executors, require_executors
from bot.services import Services, open_serving_services
from bot.settings import Settings, SettingsError
from escalation.executors import ExecutorConflict, ExecutorRegistry
from escalation.policy import load_policy
from tests.fakes.counting_executor import CountingExecutor

pytestmark = pytest.mark.integration

WEBHOOK = {"webhook_url": "http://127.0.0.1:9/actions", "webhook_secret": SecretStr("s3cret")}


def test_two_executors_claiming_one_action_are_refused(services: Services) -> None:
    registry = ExecutorRegistry()
    registry.register(CountingExecutor(services.pool, actions=frozenset({"refund", "cancel_order"})))
    with pytest.raises(ExecutorConflict, match="'refund' is claimed by two executors: counting and counting"):
        registry.register(CountingExecutor(services.pool, actions=frozenset({"refund"})))
    assert registry.known() == {"refund", "cancel_order"}


async def test_the_demo_back_end_and_a_webhook_for_the_same_action_stop_the_start(
    settings: Settings, services: Services
) -> None:
    both = settings.model_copy(update={"demo_backend": True, "webhook_actions": "refund", **WEBHOOK})
    with pytest.raises(SettingsError) as raised:
        async with open_executors(both, services.pool):
            pass
    assert str(raised.value) == (
        "`refund` would be run by both the demo back end (DEMO_BACKEND) and your webhook (WEBHOOK_ACTIONS): "
        "choose one (turn DEMO_BACKEND off for a real back end)"
    )


async def test_a_webhook_for_some_actions_leaves_the_rest_without_an_executor(
    settings: Settings, services: Services
) -> None:
    """The defect this replaces: WEBHOOK_ACTIONS=refund while cancel_order and change_email "ran" on the
    demo tables and the customer was told it was done."""
    webhook_only = settings.model_copy(update={"demo_backend": False, "webhook_actions": "refund", **WEBHOOK})
    policy = load_policy(settings.policy_file)
    async with open_executors(webhook_only, services.pool) as registry:
        assert registry.name_for("refund") == "webhook" and registry.name_for("cancel_order") is None
        with pytest.raises(SettingsError) as raised:
            require_executors(policy, registry, policy_file="acme.yaml")
    message = str(raised.value)
    assert message.startswith("acme.yaml declares `cancel_order`, `change_email`, `order_status`,")
    assert "`refund`" not in message and "DEMO_BACKEND=true" in message and "WEBHOOK_ACTIONS" in message


async def test_serving_commands_refuse_to_start_without_executors(settings: Settings) -> None:
    with pytest.raises(SettingsError, match=r"declares .* but nothing runs them"):
        async with open_serving_services(settings.model_copy(update={"demo_backend": False})):
            pass


def test_the_demo_back_end_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMO_BACKEND", raising=False)
    assert Settings.model_fields["demo_backend"].default is False
    assert Settings(_env_file=None).demo_backend is False  # type: ignore[call-arg]
