"""Settings from environment and `.env`, and the errors people see when a value is wrong."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import EmbedderKind, Settings, SettingsError, load_settings, parse_duration
from knowledge.fusion import DEFAULT_MARGIN, Fusion

pytestmark = pytest.mark.usefixtures("settings_env")

SetEnv = Callable[..., None]


def _error(**overrides: object) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(**overrides)
    return str(caught.value)


def test_defaults() -> None:
    s = load_settings()
    assert isinstance(s, Settings)
    assert s.supportbot_home == Path(".supportbot")
    assert s.database_url is None
    assert s.redis_url is None
    assert (s.host, s.port, s.log_level, s.db_pool_max) == ("127.0.0.1", 3000, "INFO", 10)
    assert s.embedder is EmbedderKind.LOCAL
    assert s.embedding_api_key is None
    assert s.search_fusion is Fusion.DENSE_FIRST
    assert s.search_lexical_margin == DEFAULT_MARGIN
    assert (s.routing_oos_recall, s.routing_holdout_folds) == (0.8, 5)
    assert (s.search_dense_weight, s.search_rrf_k, s.search_candidates) == (0.75, 60, 40)
    assert s.stale_weight == 0.7
    assert s.default_review_every == "180d"
    assert s.review_interval == timedelta(days=180)
    assert (s.max_file_bytes, s.chunk_max_chars) == (10_000_000, 1000)


def test_env_vars_override_defaults(settings_env: SetEnv) -> None:
    settings_env(
        SEARCH_DENSE_WEIGHT="0.6",
        DATABASE_URL="postgresql://bot:pw@db.internal:5432/kb",
        PORT="8080",
        EMBEDDER="openai",
        SEARCH_FUSION="rrf",
        LOG_LEVEL="debug",
        DEFAULT_REVIEW_EVERY="2w",
    )
    s = load_settings()
    assert s.search_dense_weight == 0.6
    assert s.database_url is not None
    assert s.database_url.get_secret_value() == "postgresql://bot:pw@db.internal:5432/kb"
    assert s.port == 8080
    assert s.embedder is EmbedderKind.OPENAI
    assert s.search_fusion is Fusion.RRF
    assert s.log_level == "DEBUG"
    assert s.review_interval == timedelta(weeks=2)


def test_lower_case_env_var_names_work(settings_env: SetEnv) -> None:
    settings_env(port="4242")
    assert load_settings().port == 4242


def test_dotenv_in_cwd_is_read_and_env_wins(tmp_path: Path, settings_env: SetEnv) -> None:
    (tmp_path / ".env").write_text("PORT=4001\nSEARCH_CANDIDATES=77\n", encoding="utf-8")
    assert (load_settings().port, load_settings().search_candidates) == (4001, 77)
    settings_env(PORT="5001")
    s = load_settings()
    assert (s.port, s.search_candidates) == (5001, 77)


def test_overrides_beat_env(settings_env: SetEnv) -> None:
    settings_env(PORT="5001")
    assert load_settings(port=6001).port == 6001


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("SEARCH_DENSE_WEIGHT", "2", "less than or equal to 1"),
        ("STALE_WEIGHT", "-0.5", "greater than or equal to 0"),
        ("PORT", "abc", "valid integer"),
        ("PORT", "70000", "less than or equal to 65535"),
        ("EMBEDDER", "foo", "'local' or 'openai'"),
        ("SEARCH_FUSION", "average", "'convex' or 'rrf'"),
        ("DEFAULT_REVIEW_EVERY", "soon", "number followed by s, m, h, d or w"),
        ("LOG_LEVEL", "loud", "one of DEBUG, INFO, WARNING, ERROR"),
        ("CHUNK_MAX_CHARS", "50", "greater than or equal to 200"),
    ],
)
def test_bad_value_names_setting_and_what_is_allowed(settings_env: SetEnv, name: str, value: str, allowed: str) -> None:
    settings_env(**{name: value})
    message = _error()
    assert message.startswith(f"Invalid setting {name}: ")
    assert allowed in message
    assert f"(got {value!r})" in message


def test_several_bad_values_are_all_reported(settings_env: SetEnv) -> None:
    settings_env(PORT="abc", LOG_LEVEL="loud")
    message = _error()
    assert "PORT: " in message
    assert "LOG_LEVEL: " in message
    assert "; " in message


def test_settings_error_hides_validation_traceback(settings_env: SetEnv) -> None:
    settings_env(PORT="abc")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.__suppress_context__
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("database_url", b"postgresql://admin:hunter2@db.internal/kb\xff"),
        ("redis_url", {"url": "redis://:hunter2@cache"}),
        ("embedding_api_key", ["sk-hunter2"]),
    ],
)
def test_bad_secret_value_never_appears_in_message(field: str, value: object) -> None:
    message = _error(**{field: value})
    assert f"{field.upper()}: " in message
    assert "hunter2" not in message
    assert "got" not in message


def test_secret_hidden_even_next_to_a_shown_value(settings_env: SetEnv) -> None:
    settings_env(PORT="abc")
    message = _error(database_url=b"postgresql://u:hunter2@h/\xff")
    assert "(got 'abc')" in message
    assert "DATABASE_URL" in message
    assert "hunter2" not in message


def test_secrets_not_revealed_in_repr(settings_env: SetEnv) -> None:
    settings_env(
        DATABASE_URL="postgresql://bot:hunter2@db/kb",
        REDIS_URL="redis://:hunter3@cache:6379/0",
        EMBEDDING_API_KEY="sk-hunter4",
    )
    s = load_settings()
    for text in (repr(s), str(s), repr(s.model_dump())):
        assert "hunter2" not in text
        assert "hunter3" not in text
        assert "hunter4" not in text
    assert "**********" in repr(s)
    assert s.embedding_api_key is not None
    assert s.embedding_api_key.get_secret_value() == "sk-hunter4"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("30", timedelta(days=30)),
        (" 7 D ", timedelta(days=7)),
        ("5 h", timedelta(hours=5)),
        ("0d", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["soon", "", "   ", "1.5d", "-3d", "d", "10y", "90dd", "2 weeks"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration; use a number followed by s, m, h, d or w") as caught:
        parse_duration(text)
    assert repr(text) in str(caught.value)


def test_one_holdout_fold_is_refused_and_zero_turns_it_off() -> None:
    assert "ROUTING_HOLDOUT_FOLDS: " in _error(routing_holdout_folds=1)
    assert load_settings(routing_holdout_folds=0).routing_holdout_folds == 0
