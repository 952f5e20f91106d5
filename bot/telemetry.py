"""OpenTelemetry set-up: which tracer provider the process uses, chosen once at start-up.

- `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set: the SDK records spans and sends
  them in batches over OTLP/HTTP (the exporter reads the other standard `OTEL_EXPORTER_OTLP_*` variables,
  and the SDK `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`).
- Otherwise nothing is recorded or exported, but every inbound event still gets a real trace id, stored on
  its decision record and audit rows: the SDK's tracer with a sampler that drops every span creates
  non-recording spans that carry generated ids (no attributes kept, no processor called). The API's own no-op
  tracer would be cheaper still but has no ids to store (docs/benchmarks.md measures both).
"""

from __future__ import annotations

import logging
import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

log = logging.getLogger(__name__)

SERVICE = "supportbot"
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def exporting() -> bool:
    """Whether the standard variables ask for spans to be exported."""
    return any(os.environ.get(name) for name in _ENDPOINTS)


def build_provider(*processors: SpanProcessor, record: bool | None = None) -> TracerProvider:
    """A provider that records (and hands spans to `processors`) when `record`, else one that only makes ids.
    `record` defaults to whether anything is exported or processed."""
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or SERVICE})
    recording = (bool(processors) or exporting()) if record is None else record
    provider = TracerProvider(resource=resource) if recording else TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def configure_tracing() -> TracerProvider:
    """Install this process's tracer provider once (later calls return the first): OTLP when configured."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    processors: list[SpanProcessor] = []
    if exporting():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        processors.append(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("OpenTelemetry: exporting traces over OTLP/HTTP")
    return install(build_provider(*processors))


def install(provider: TracerProvider) -> TracerProvider:
    """Make `provider` the global one. The API allows that once per process: a second call keeps (and returns)
    the first rather than letting spans go to two places."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    trace.set_tracer_provider(provider)
    return provider


def shutdown_tracing() -> None:
    """Send what is still batched before the process exits."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        current.shutdown()
