"""Log lines: readable text by default, one JSON object per line with LOG_FORMAT=json; every line names the trace,
inbound event, conversation and decision it belongs to, and personal data and secrets are taken out of the message
(LOG_REDACT_PII, on by default) before it is written anywhere."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from handlers.pii import redact_text
from handlers.tracing import CONVERSATION_KEY, DECISION_ID, EVENT_ID, current_trace_id

CONTEXT_FIELDS = ("trace_id", "event_id", "conversation_key", "decision_id")


class ContextFilter(logging.Filter):
    """Stamps each record with the ids of the turn it was logged in and, when redacting, cleans its message."""

    def __init__(self, *, redact: bool) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = current_trace_id()
        record.event_id = EVENT_ID.get()
        record.conversation_key = CONVERSATION_KEY.get()
        record.decision_id = DECISION_ID.get()
        if self._redact:
            # the formatted message replaces msg/args, so no handler or formatter sees the original again
            record.msg, record.args = redact_text(record.getMessage()), None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{name}={value}" for name in CONTEXT_FIELDS if (value := getattr(record, name, None))]
        if not ids:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} [{' '.join(ids)}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One object per line: time, level, logger, message, the four ids (null when there is none), exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            entry[name] = getattr(record, name, None)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_handler(*, json_lines: bool, redact: bool, stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(ContextFilter(redact=redact))
    return handler


class _OurHandler(logging.StreamHandler[TextIO]):
    """The handler `configure_logging` installs, so a second call replaces it and nothing else."""


def configure_logging(*, level: str, json_lines: bool, redact: bool) -> None:
    """The root logger writes to standard error in the chosen format (once, however often this is called)."""
    root = logging.getLogger()
    for old in [handler for handler in root.handlers if isinstance(handler, _OurHandler)]:
        root.removeHandler(old)
    handler = _OurHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(ContextFilter(redact=redact))
    root.addHandler(handler)
    root.setLevel(level)
