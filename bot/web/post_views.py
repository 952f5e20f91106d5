"""Each playground post as it is now: an answer, an approval or hand-off card in its current state, a note. The
core's items and escalation's records become the neutral presentation (`bot.presentation`) here, and
`bot.web.render` turns that into HTML."""

from __future__ import annotations

from datetime import UTC, datetime

import jinja2

from bot.presentation import words
from bot.presentation.answer import answer_view
from bot.presentation.approval import CardContext, approval_card
from bot.presentation.handoff import handoff_card
from bot.presentation.model import Notice
from bot.web import render as html
from bot.web.front import parse_key
from bot.web.posts import Post, WebPosts
from escalation.service import Escalation
from handlers.decisions import DecisionStore
from handlers.models import ApprovalRequest, HandoffNotice, Reply, StaffNote
from handlers.outbound_codec import decode


class PostViews:
    def __init__(
        self, env: jinja2.Environment, *, escalation: Escalation, decisions: DecisionStore, posts: WebPosts
    ) -> None:
        self._template = env.get_template("_post.html")
        self._escalation = escalation
        self.decisions = decisions
        self._posts = posts
        self.explain_path: str | None = None  # "/…/{}": the console's decision page, once one is mounted

    async def render(self, post: Post, *, csrf: str, staff: bool, now: datetime | None = None) -> html.Rendered:
        """`staff`: the viewer is staff, so links to decisions (the console's pages) are shown."""
        view = await self._view(post, now=now or datetime.now(UTC))
        pane = "staff" if post.channel == "staff" else "customer"
        element_id = f"card-{post.subject}" if post.subject else f"post-{post.id}"
        explain = self.explain_path if staff else None
        shown = html.post_html(self._template, view, csrf=csrf, element_id=element_id, explain=explain)
        return html.Rendered(pane, element_id, shown)

    async def _view(self, post: Post, *, now: datetime) -> html.View:
        if post.kind == "message":
            return html.message_view(post.body)
        if post.kind == "approval" and post.subject:
            return await self._approval(post.subject)
        if post.kind == "handoff" and post.subject:
            return await self._handoff(post.subject)
        [item] = decode([post.body])
        if isinstance(item, Reply):
            return html.reply_view(answer_view(item, now=now))
        about = item.conversation_key if isinstance(item, StaffNote) else None
        return html.note_view(Notice(item.text, conversation_link(about)))

    async def _approval(self, approval_id: str) -> html.View:
        approval = await self._escalation.approval(approval_id)
        if approval is None:
            return html.note_view(Notice(words.gone(approval_id)))
        first = await self._posts.first_of(approval_id)
        posted = decode([first.body])[0] if first and first.body else None
        record = await self.decisions.get(approval.decision_id) if approval.decision_id else None
        confidence = None
        if record is not None:
            confidence = record.route_confidence if record.route_confidence is not None else record.confidence
        context = CardContext(
            reason=posted.reason if isinstance(posted, ApprovalRequest) else approval.rule,
            summary=posted.text if isinstance(posted, ApprovalRequest) else "",
            request_text=approval.request_text or (record.inbound if record else None),
            confidence=confidence,
            conversation_link=conversation_link(approval.conversation_key),
            undoable=self._escalation.undoable(approval),
        )
        return html.approval_view(approval_card(approval, context))

    async def _handoff(self, handoff_id: str) -> html.View:
        handoff = await self._escalation.handoffs.get(handoff_id)
        first = await self._posts.first_of(handoff_id)
        posted = decode([first.body])[0] if first and first.body else None
        text = posted.text if isinstance(posted, HandoffNotice) else ""
        card = handoff_card(handoff, text=text, conversation_link=conversation_link(handoff.conversation_key))
        return html.handoff_view(card)


def conversation_link(key: str | None) -> str | None:
    """The playground showing that conversation (web conversations only)."""
    found = parse_key(key or "")
    if found is None:
        return None
    org, customer, thread = found
    return f"/playground?org={org or ''}&customer={customer}&thread={thread}"
