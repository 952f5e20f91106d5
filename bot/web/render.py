"""Everything the core says, as HTML for the playground: answers with numbered sources (age, stale flag) and
their buttons, approval cards with the same content as Slack's, hand-off cards, notes, people's messages.

The neutral items (`handlers.models`, escalation's approvals and hand-offs) are turned into plain view data
here, with the shared wording of `bot.card_text`; `templates/_post.html` only lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jinja2

from bot import card_text as words
from bot.answer_markup import fitted_parts, markers, shorten, to_html
from bot.web.front import parse_key
from bot.web.posts import Post, WebPosts
from escalation.formatting import AMOUNT, approval_input_facts
from escalation.models import ApprovalState, HandoffState
from escalation.service import Escalation
from handlers.decisions import DecisionStore
from handlers.models import ActionKind, ApprovalRequest, HandoffNotice, Reply, StaffNote
from handlers.outbound_codec import decode

ANSWER_LIMIT = 4000  # a pane scrolls; longer answers are cut at a sentence, their sources say where more is


@dataclass(frozen=True)
class Rendered:
    pane: str  # "customer" or "staff"
    element_id: str  # a card's id stays the same as it changes: the page replaces it
    html: str


class Renderer:
    def __init__(
        self, env: jinja2.Environment, *, escalation: Escalation, decisions: DecisionStore, posts: WebPosts
    ) -> None:
        self._template = env.get_template("_post.html")
        self._escalation = escalation
        self.decisions = decisions
        self._posts = posts
        self.explain_path: str | None = None  # "/…/{}": the console's decision page, once one is mounted

    async def render(self, post: Post, *, csrf: str, staff: bool, now: datetime | None = None) -> Rendered:
        """`staff`: the viewer is staff, so links to decisions (the console's pages) are shown."""
        view = await self._view(post, now=now or datetime.now(UTC))
        pane = "staff" if post.channel == "staff" else "customer"
        element_id = f"card-{post.subject}" if post.subject else f"post-{post.id}"
        explain = self.explain_path if staff else None
        html = self._template.render(post=view, csrf_token=csrf, element_id=element_id, explain=explain)
        return Rendered(pane, element_id, html)

    async def _view(self, post: Post, *, now: datetime) -> dict[str, Any]:
        if post.kind == "message":
            return {"kind": "message", **post.body}
        if post.kind == "approval" and post.subject:
            return await self._approval(post.subject, now=now)
        if post.kind == "handoff" and post.subject:
            return await self._handoff(post.subject)
        [item] = decode([post.body])
        if isinstance(item, Reply):
            return reply_view(item, now=now)
        about = item.conversation_key if isinstance(item, StaffNote) else None
        return {"kind": "note", "text": item.text, "conversation": _conversation_link(about)}

    async def _approval(self, approval_id: str, *, now: datetime) -> dict[str, Any]:
        approval = await self._escalation.approval(approval_id)
        if approval is None:
            return {"kind": "note", "text": f"{approval_id} no longer exists.", "conversation": None}
        first = await self._posts.first_of(approval_id)
        posted = decode([first.body])[0] if first and first.body else None
        reason = posted.reason if isinstance(posted, ApprovalRequest) else approval.rule
        record = await self.decisions.get(approval.decision_id) if approval.decision_id else None
        confidence = None
        if record is not None:
            confidence = record.route_confidence if record.route_confidence is not None else record.confidence
        pending = approval.state is ApprovalState.PENDING
        workflow = self._escalation.policy.workflow(approval.workflow)
        amount = approval.params.get(AMOUNT)
        return {
            "kind": "approval",
            "id": approval.id,
            "title": words.approval_title(approval),
            "facts": [
                ("Customer", approval.requested_by),
                ("Org", approval.org or "none"),
                ("Action", f"{approval.workflow} → {approval.action}"),
                ("Inputs", "; ".join(f"{key}={shown}" for key, shown in approval_input_facts(approval)) or "none"),
                ("Risk", approval.risk.value),
                ("Confidence", f"{confidence:.2f}" if confidence is not None else "n/a"),
                ("Rule", approval.rule),
                ("Expires", f"{approval.expires_at:%Y-%m-%d %H:%M} UTC"),
            ],
            "request_text": approval.request_text or (record.inbound if record else None),
            "reason": reason,
            "decision_id": approval.decision_id,
            "conversation": _conversation_link(approval.conversation_key),
            "pending": pending,
            "can_edit": pending and isinstance(amount, int),
            "amount": f"{amount / 100:.2f}" if isinstance(amount, int) else "",
            "can_take_over": pending and bool(approval.conversation_key),
            "outcome": None if pending else words.outcome_lines(approval),
            "failed": approval.state in (ApprovalState.FAILED, ApprovalState.DENIED, ApprovalState.EXPIRED),
            "undoable": approval.state is ApprovalState.EXECUTED
            and not approval.rollback_of
            and bool(workflow and workflow.rollback),
        }

    async def _handoff(self, handoff_id: str) -> dict[str, Any]:
        handoff = await self._escalation.handoffs.get(handoff_id)
        first = await self._posts.first_of(handoff_id)
        posted = decode([first.body])[0] if first and first.body else None
        return {
            "kind": "handoff",
            "id": handoff.id,
            "title": f"Hand-off: {handoff.reason}",
            "text": posted.text if isinstance(posted, HandoffNotice) else "",
            "facts": [
                ("Org", handoff.org or "none"),
                ("Workflow", handoff.workflow or "none"),
                ("Assigned to", handoff.assigned_to or "anyone"),
                ("State", handoff.state.value + (f" by {handoff.claimed_by}" if handoff.claimed_by else "")),
            ],
            "summary": handoff.summary,
            "would_have_said": handoff.would_have_said,
            "conversation": _conversation_link(handoff.conversation_key),
            "open": handoff.state is not HandoffState.CLOSED,
            "can_claim": handoff.state not in (HandoffState.CLAIMED, HandoffState.CLOSED),
        }


def reply_view(reply: Reply, *, now: datetime) -> dict[str, Any]:
    if reply.parts:
        parts = [
            {
                "html": to_html(part.text),
                "markers": markers(part).strip(),
                "facts": [(fact.label, fact.value) for fact in part.facts],
            }
            for part in fitted_parts(reply, ANSWER_LIMIT)
        ]
    else:
        parts = [{"html": to_html(shorten(reply.text, ANSWER_LIMIT)), "markers": "", "facts": []}]
    return {
        "kind": "reply",
        "parts": parts,
        "sources": [
            {
                "number": c.number,
                "title": " › ".join((c.title, *c.heading_path)),
                "url": c.url,
                "age": words.age(c.updated_at, now=now),
                "stale": c.stale,
            }
            for c in reply.citations
        ],
        "buttons": [{"kind": b.kind.value, "label": b.label, "target": b.target} for b in reply.buttons],
        "conversation": reply.conversation_key,
        "decision_id": reply.decision_id,
        "not_helpful": ActionKind.NOT_HELPFUL.value,
        "stale_words": words.PAST_REVIEW,
    }


def _conversation_link(key: str | None) -> str | None:
    """The playground showing that conversation (web conversations only)."""
    found = parse_key(key or "")
    if found is None:
        return None
    org, customer, thread = found
    return f"/playground?org={org or ''}&customer={customer}&thread={thread}"
