"""Trace and log context for the core: the OpenTelemetry API only (the SDK and exporters are set up in `bot/`).

Without a configured tracer provider every span here is the API's no-op; `bot.telemetry` installs one that
at least gives each inbound event a real trace id, which decision records and audit rows store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

tracer = trace.get_tracer("supportbot")
_PROPAGATOR = TraceContextTextMapPropagator()
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)

# What every log line of a turn names besides its trace (bot/logs.py reads these)
EVENT_ID: ContextVar[str | None] = ContextVar("supportbot_event_id", default=None)
CONVERSATION_KEY: ContextVar[str | None] = ContextVar("supportbot_conversation_key", default=None)
DECISION_ID: ContextVar[str | None] = ContextVar("supportbot_decision_id", default=None)


@contextmanager
def log_context(
    *, event_id: str | None = None, conversation_key: str | None = None, decision_id: str | None = None
) -> Iterator[None]:
    """Name the event, conversation and decision on every log line inside; unnamed ones keep their value."""
    tokens = [
        (var, var.set(value))
        for var, value in ((EVENT_ID, event_id), (CONVERSATION_KEY, conversation_key), (DECISION_ID, decision_id))
        if value is not None
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def trace_ids(span: Span | None = None) -> tuple[str, str] | None:
    """(trace id, span id) in hex of `span` (default: the current one), or None outside any trace."""
    context = (span or trace.get_current_span()).get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


def current_trace_id() -> str | None:
    ids = trace_ids()
    return ids[0] if ids else None


def traceparent() -> str | None:
    """The current span as a W3C `traceparent` header value, to carry with a queued job."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_from(traceparent_value: str | None) -> otel_context.Context | None:
    """The context a stored `traceparent` names (a remote parent), or None when there is none to continue."""
    if not traceparent_value:
        return None
    extracted = _PROPAGATOR.extract({"traceparent": traceparent_value})
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


def remote_span(trace_id: str | None, span_id: str | None) -> SpanContext | None:
    """A span stored by its ids (a decision's turn span), for a link or as a parent; None if not stored."""
    if not trace_id or not span_id:
        return None
    try:
        found = SpanContext(
            int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
        )
    except ValueError:
        return None
    return found if found.is_valid else None


def links_to(*contexts: SpanContext | None, **attributes: Any) -> list[Link]:
    return [Link(found, attributes or None) for found in contexts if found is not None and found.is_valid]


def with_parent(parent: SpanContext) -> otel_context.Context:
    """A context whose current span is `parent`: spans started in it continue `parent`'s trace."""
    return trace.set_span_in_context(NonRecordingSpan(parent))
