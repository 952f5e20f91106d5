"""The model's settings: one deadline per turn that must leave the turn time to answer offline, and a circuit
breaker built from LLM_CIRCUIT_*."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.core_factory import build_language_model
from bot.settings import SettingsError, load_settings

pytestmark = pytest.mark.usefixtures("settings_env")
SetEnv = Callable[..., None]


def test_the_defaults_fit_a_turn() -> None:
    settings = load_settings()
    assert (settings.llm_turn_deadline, settings.llm_timeout, settings.llm_max_retries) == (20.0, 20.0, 2)
    assert (settings.llm_circuit_failures, settings.llm_circuit_cooldown) == (3, 30.0)
    assert settings.llm_turn_deadline + 5 <= settings.turn_timeout


@pytest.mark.parametrize(
    "overrides", [{"llm_turn_deadline": 58}, {"turn_timeout": 20}, {"llm_turn_deadline": 100, "turn_timeout": 100}]
)
def test_a_deadline_that_leaves_the_turn_no_time_to_answer_is_refused(overrides: dict[str, float]) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**overrides)
    message = str(caught.value)
    assert "LLM_TURN_DEADLINE" in message and "must be at least 5 s below" in message and "TURN_TIMEOUT" in message
    assert "got {" not in message  # a rule across settings does not echo every setting (secrets among them)


def test_the_rule_reads_the_environment_too(settings_env: SetEnv) -> None:
    settings_env(LLM_TURN_DEADLINE="40", TURN_TIMEOUT="45", LLM_API_KEY="sk-very-secret")
    settings = load_settings()
    assert (settings.llm_turn_deadline, settings.turn_timeout) == (40.0, 45.0)
    settings_env(LLM_TURN_DEADLINE="41")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "LLM_TURN_DEADLINE (41 s)" in str(caught.value) and "sk-very-secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"), [("llm_turn_deadline", 0), ("llm_circuit_failures", 0), ("llm_circuit_cooldown", 0)]
)
def test_nonsense_values_are_refused_by_name(name: str, value: float) -> None:
    with pytest.raises(SettingsError, match=name.upper()):
        load_settings(**{name: value})


async def test_the_model_gets_its_breaker_from_the_settings() -> None:
    settings = load_settings(
        llm_base_url="http://127.0.0.1:9/v1", llm_model="qwen2.5:7b", llm_circuit_failures=7, llm_circuit_cooldown=12
    )
    model = build_language_model(settings)
    assert model is not None
    try:
        assert (model.breaker.failures, model.breaker.cooldown_s) == (7, 12.0)
        assert model.supports_tools is None  # nobody asked yet
    finally:
        await model.close()
