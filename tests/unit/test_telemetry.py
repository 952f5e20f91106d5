"""With nothing to export, spans record nothing but still carry real trace ids; with a processor they record."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading

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


EXPORTING_PROCESS = """
from bot.telemetry import configure_tracing, shutdown_tracing
from handlers.tracing import tracer
configure_tracing()
with tracer.start_as_current_span("turn"):
    pass
shutdown_tracing()
"""


def test_spans_go_over_otlp_only_when_the_standard_variable_is_set() -> None:
    received: list[tuple[str, bytes]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None: ...

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        subprocess.run([sys.executable, "-c", EXPORTING_PROCESS], env=environment, check=True, timeout=60)
        assert received == []  # nothing configured: nothing sent
        environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        subprocess.run([sys.executable, "-c", EXPORTING_PROCESS], env=environment, check=True, timeout=60)
        server.shutdown()
    [(path, body)] = received
    assert path == "/v1/traces" and b"turn" in body and b"supportbot" in body
