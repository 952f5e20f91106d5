"""With nothing to export, spans record nothing but still carry real trace ids; with a processor they record."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot.telemetry import build_provider, exporting
from handlers.tracing import context_from, trace_ids, traceparent


def test_nothing_exported_means_ids_without_recording(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert not exporting()
    tracer = build_provider().get_tracer("test")
    with tracer.start_as_current_span("receive") as root:
        carried = traceparent()
        with tracer.start_as_current_span("route") as child:
            assert not child.is_recording()
            assert trace_ids(child) is not None and trace_ids(child)[0] == trace_ids(root)[0]  # type: ignore[index]
    # a queued turn continues the trace from the stored traceparent
    with tracer.start_as_current_span("turn", context=context_from(carried)) as turn:
        assert trace_ids(turn)[0] == trace_ids(root)[0]  # type: ignore[index]
    assert context_from(None) is None and context_from("garbage") is None


def test_a_processor_makes_spans_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert exporting()
    exporter = InMemorySpanExporter()
    tracer = build_provider(SimpleSpanProcessor(exporter)).get_tracer("test")
    with tracer.start_as_current_span("turn"):
        pass
    assert [span.name for span in exporter.get_finished_spans()] == ["turn"]
