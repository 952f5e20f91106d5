"""Spans recorded in memory (the SDK's in-memory exporter) while a test asks for them.

The tracer provider is global and can be set once per process, so it is installed once, with a sampler that
records only while a test is inside `recorded_spans()`: outside, it behaves as production does when nothing
is exported (real trace ids, nothing recorded), and the rest of the suite pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from bot.telemetry import install


class _Switch(Sampler):
    def __init__(self) -> None:
        self.on = False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        chosen = ALWAYS_ON if self.on else ALWAYS_OFF
        return chosen.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "on while a test records spans"


_SWITCH = _Switch()
_EXPORTER = InMemorySpanExporter()


def _provider() -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        assert current.sampler is _SWITCH, "another tracer provider was installed in this test process"
        return current
    provider = TracerProvider(sampler=_SWITCH)
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    return install(provider)


@contextmanager
def recorded_spans() -> Iterator[InMemorySpanExporter]:
    """Every span that ends inside, in `exporter.get_finished_spans()`."""
    _provider()
    _EXPORTER.clear()
    _SWITCH.on = True
    try:
        yield _EXPORTER
    finally:
        _SWITCH.on = False
