"""A staff member's click on an approval card, traced where an operator looks for it: in the trace of the turn
that asked for the approval, so one trace runs from the customer's message to the executed action.

The click arrives as a request of its own, minutes or days later, with its own trace, and is handled after its
ack (when the request's span has ended). Both traces are joined by span links: an "approval click" span in the
click's trace links to the turn; the "decision click" span (and under it the execution and the deliveries) sits
in the turn's trace and links back to it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from handlers.decisions import DecisionStore
from handlers.tracing import links_to, log_context, remote_span, tracer, with_parent


@asynccontextmanager
async def decision_click(decisions: DecisionStore, approval_id: str, *, verb: str) -> AsyncIterator[None]:
    """Run a click on `approval_id` (`verb`: approve, deny, …) inside a "decision click" span; a click on anything
    else (a hand-off, an answer's feedback) in a plain "click" span of its own request's trace."""
    record = await decisions.for_approval(approval_id) if approval_id.startswith("apr_") else None
    turn = remote_span(record.trace_id, record.trace_span_id) if record is not None else None
    attributes = {"supportbot.click.target": approval_id, "supportbot.click": verb}
    if record is None or turn is None:  # not an approval, or one asked for before traces were stored
        with tracer.start_as_current_span("click", attributes=attributes):
            yield
        return
    with (
        log_context(decision_id=record.id),
        tracer.start_as_current_span(
            "approval click", links=links_to(turn, **{"supportbot.link": "the turn that asked"}), attributes=attributes
        ) as click,
        tracer.start_as_current_span(
            "decision click",
            context=with_parent(turn),
            links=links_to(click.get_span_context(), **{"supportbot.link": "the click"}),
            attributes=attributes,
        ),
    ):
        yield
