"""Log lines name the trace, event, conversation and decision they belong to, and carry no personal data."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace

from bot.logs import log_handler
from bot.telemetry import build_provider
from handlers.tracing import log_context

SECRET_LINE = "refund for jane@example.com, card 4242 4242 4242 4242"


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    found = logging.getLogger("tests.logs")
    found.propagate, found.level = False, logging.INFO
    yield found
    found.handlers.clear()


def _capture(logger: logging.Logger, *, json_lines: bool, redact: bool = True) -> io.StringIO:
    stream = io.StringIO()
    logger.handlers = [log_handler(json_lines=json_lines, redact=redact, stream=stream)]
    return stream


def test_json_lines_carry_the_ids_and_no_personal_data(logger: logging.Logger) -> None:
    stream = _capture(logger, json_lines=True)
    tracer = build_provider().get_tracer("test")  # nothing exported: ids only
    with (
        tracer.start_as_current_span("turn") as span,
        log_context(event_id="msg:C1:1.0", conversation_key="slack:C1:1.0", decision_id="dec_1"),
    ):
        logger.info("customer wrote: %s", SECRET_LINE)
        try:
            raise ValueError(f"could not refund {SECRET_LINE}")
        except ValueError:
            logger.exception("turn failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["trace_id"] == trace.format_trace_id(span.get_span_context().trace_id)
    assert (first["event_id"], first["conversation_key"], first["decision_id"]) == (
        "msg:C1:1.0",
        "slack:C1:1.0",
        "dec_1",
    )
    assert first["message"] == "customer wrote: refund for [email], card [card]"
    assert "jane@example.com" not in second["exception"] and "4242 4242" not in second["exception"]
    assert "refund for [email], card [card]" in second["exception"]


def test_lines_outside_a_turn_have_null_ids_and_text_is_the_default_shape(logger: logging.Logger) -> None:
    stream = _capture(logger, json_lines=True)
    logger.warning("no turn here")
    entry = json.loads(stream.getvalue())
    assert [entry[name] for name in ("trace_id", "event_id", "conversation_key", "decision_id")] == [None] * 4
    stream = _capture(logger, json_lines=False)
    with log_context(event_id="msg:C1:2.0", decision_id="dec_2"):
        logger.info("mail %s", "jane@example.com")
    assert stream.getvalue().rstrip().endswith("tests.logs: mail [email] [event_id=msg:C1:2.0 decision_id=dec_2]")


def test_redaction_can_be_turned_off(logger: logging.Logger) -> None:
    stream = _capture(logger, json_lines=True, redact=False)
    logger.info(SECRET_LINE)
    assert json.loads(stream.getvalue())["message"] == SECRET_LINE
