"""Reading filters from a query string: a wrong value is reported on the page, never a server error."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

PAGE_SIZES = (25, 50, 100)


class FilterError(ValueError):
    """A filter the page shows back with what is wrong."""


def text(query: Mapping[str, str], name: str, *, limit: int = 200) -> str | None:
    value = query.get(name, "").strip()
    return value[:limit] or None


def day(query: Mapping[str, str], name: str, *, end: bool = False) -> datetime | None:
    """YYYY-MM-DD as the start of that day (UTC); `end`: the start of the next day, so the day is included."""
    value = text(query, name, limit=20)
    if value is None:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{name} must be a date like 2026-11-23, not {value!r}") from None
    return datetime.combine(parsed + timedelta(days=1 if end else 0), time(), UTC)


def page_number(query: Mapping[str, str]) -> int:
    value = text(query, "page", limit=6) or "1"
    return int(value) if value.isdigit() and int(value) > 0 else 1


def pager(query: Mapping[str, str], *, page: int, total: int, size: int) -> dict[str, object]:
    """Links to the newer and older pages of a list, keeping its filters."""
    pages = max(1, -(-total // size))

    def link(number: int) -> str:
        return "?" + urlencode({**{k: v for k, v in query.items() if k != "page"}, "page": number})

    return {
        "page": page,
        "pages": pages,
        "newer": link(page - 1) if page > 1 else None,
        "older": link(page + 1) if page < pages else None,
    }
