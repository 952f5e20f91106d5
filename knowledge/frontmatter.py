"""Optional YAML front matter at the top of Markdown and text documents."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import yaml

from knowledge.errors import UnreadableDocument
from knowledge.models import DocumentMeta

_FENCE = "---"
_KNOWN = {"title", "owner", "org", "source_url", "review_by", "tags"}


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return (front matter mapping, body). No front matter gives an empty mapping."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != _FENCE:
        return {}, text
    for index in range(1, len(lines)):
        if lines[index].strip() in {_FENCE, "..."}:
            header = "".join(lines[1:index])
            body = "".join(lines[index + 1 :])
            return _load_mapping(header), body
    raise UnreadableDocument("front matter starts with '---' but is never closed")


def _load_mapping(header: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(header)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise UnreadableDocument(f"malformed front matter{where}: {getattr(exc, 'problem', exc)}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise UnreadableDocument("malformed front matter: expected 'key: value' lines")
    return {str(key): value for key, value in loaded.items()}


def meta_from_mapping(raw: dict[str, Any]) -> DocumentMeta:
    """Validate the fields we know; unknown keys are ignored so authors may keep their own."""
    fields = {key: raw[key] for key in _KNOWN if raw.get(key) not in (None, "")}
    return DocumentMeta(
        title=_text(fields, "title"),
        owner=_text(fields, "owner"),
        org=_org(fields),
        source_url=_text(fields, "source_url"),
        review_by=_date(fields.get("review_by")),
        tags=_tags(fields.get("tags")),
    )


def _text(fields: dict[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise UnreadableDocument(f"front matter field '{key}' must be text, not a {type(value).__name__}")
    return str(value).strip() or None


def _org(fields: dict[str, Any]) -> str | None:
    org = _text(fields, "org")
    return org.lower() if org else None


def _date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise UnreadableDocument(f"front matter field 'review_by' is not a date (YYYY-MM-DD): {value!r}") from None


def _tags(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        items = [str(item) for item in value]
    else:
        raise UnreadableDocument("front matter field 'tags' must be a list or comma-separated text")
    return tuple(tag.strip().lower() for tag in items if tag.strip())
