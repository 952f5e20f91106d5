"""Fixtures for pure unit tests: no database, no network, no model."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.settings import Settings


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., None]:
    """An empty working directory (no `.env`) and no setting variables from the outer environment.

    Returns a setter: `settings_env(PORT="4000")` puts variables in place for one test.
    """
    monkeypatch.chdir(tmp_path)
    fields = {name.lower() for name in Settings.model_fields}
    for key in list(os.environ):
        if key.lower() in fields:
            monkeypatch.delenv(key)

    def setenv(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    return setenv
