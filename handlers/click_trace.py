"""A staff member's click on an approval card, traced where an operator looks for it: in the trace of the turn
that asked for the approval, so one trace runs from the customer's message to the executed action.

The click arrives as a request of its own, minutes or days later, with its own trace. Both are joined by span
links: the "decision click" span (and under it the execution and the deliveries) sits in the turn's trace and
links to the click's request; the click's request span links back to the turn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from opentelemetry import trace

from handlers.decisions import DecisionStore
from handlers.tracing import links_to, log_context, remote_span, tracer, with_parent


@asynccontextmanager
async def decision_click(decisions: DecisionStore, approval_id: str, *, verb: str) -> AsyncIterator[None]:
    """Run a click on `approval_id` (`verb`: approve, deny, …) inside a "decision click" span."""
    record = await decisions.for_approval(approval_id) if approval_id.startswith("apr_") else None
    turn = remote_span(record.trace_id, record.trace_span_id) if record is not None else None
    request = trace.get_current_span()
    attributes = {"supportbot.approval.id": approval_id, "supportbot.click": verb}
    if turn is None:  # not an approval, or one asked for before traces were stored: the click's own trace
        with tracer.start_as_current_span("decision click", attributes=attributes):
            yield
        return
    if request.is_recording():
        request.add_link(turn, {"supportbot.link": "turn that asked for the approval"})
    with (
        log_context(decision_id=record.id if record else None),
        tracer.start_as_current_span(
            "decision click",
            context=with_parent(turn),
            links=links_to(request.get_span_context(), **{"supportbot.link": "click request"}),
            attributes=attributes,
        ),
    ):
        yield
