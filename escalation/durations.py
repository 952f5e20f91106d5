"""Human durations in settings and policy files: `90d`, `12h`, `30m`, `2w`, `45s`; a bare number is days."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    stripped = text.strip()
    if stripped.isdigit():
        return timedelta(days=int(stripped))
    match = _DURATION.match(stripped.lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration; use a number followed by s, m, h, d or w (e.g. 90d, 30m)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _coerce(value: object) -> object:
    return parse_duration(value) if isinstance(value, str) else value


Duration = Annotated[timedelta, BeforeValidator(_coerce)]
