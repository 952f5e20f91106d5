"""Adaptive Cards (1.4, Universal Actions) for answers, approvals and hand-offs. Pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot import card_text as words
from bot.answer_markup import fitted_parts, markers, shorten, to_teams
from escalation.formatting import AMOUNT, approval_input_facts, money
from escalation.models import Approval, ApprovalState, Handoff, HandoffState
from handlers.models import Citation, Reply

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ANSWER_LIMIT = 2400  # an answer in a card: longer ones are cut at a sentence, their sources say where more is
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"

# Action.Execute verbs; the bot maps them to `ActionKind`s
APPROVE, APPROVE_CHANGES, DENY, TAKE_OVER = "approve", "approve_changes", "deny", "take_over"
HELPFUL, NOT_HELPFUL, TALK_TO_HUMAN, REFRESH = "helpful", "not_helpful", "talk_to_human", "refresh"


def card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.4", "body": body}
    if actions:
        content["actions"] = actions
    return content


def text(value: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": value, "wrap": True, **style}


def execute(title: str, verb: str, data: dict[str, Any], *, style: str | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "Action.Execute", "title": title, "verb": verb, "data": data}
    if style:
        action["style"] = style
    return action


def when(moment: datetime | None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def citation_line(citation: Citation) -> str:
    title = " › ".join((citation.title, *citation.heading_path))
    shown = f"[{title}]({citation.url})" if citation.url else title
    stale = f" — **STALE: {words.PAST_REVIEW}**" if citation.stale else ""
    return f"[{citation.number}] {shown} ({words.age(citation.updated_at)}){stale}"


_VERBS = {"helpful": HELPFUL, "not_helpful": NOT_HELPFUL, "talk_to_human": TALK_TO_HUMAN}


def answer_card(reply: Reply) -> dict[str, Any]:
    """What the customer sees: the answer, numbered sources with their freshness, and feedback buttons."""
    body = answer_body(reply)
    if reply.citations:
        body.append(text("Sources", weight="Bolder", size="Small", spacing="Medium"))
        body += [text(citation_line(c), size="Small", spacing="None") for c in reply.citations]
    actions = [execute(b.label, _VERBS[b.kind.value], {"target": b.target}) for b in reply.buttons]
    return card(body, actions)


def answer_body(reply: Reply) -> list[dict[str, Any]]:
    """The answer as TextBlocks (Markdown the card renders), a table row as a FactSet, each piece with its [n]
    sources, the closing pointer ("More in [1].") small and subtle; cut to ANSWER_LIMIT at a sentence."""
    if not reply.parts:
        return [text(to_teams(shorten(reply.text, ANSWER_LIMIT)))]
    body: list[dict[str, Any]] = []
    for part in fitted_parts(reply, ANSWER_LIMIT):
        if part.facts:
            facts = [{"title": fact.label, "value": to_teams(fact.value)} for fact in part.facts]
            facts[-1]["value"] += markers(part)
            body.append({"type": "FactSet", "facts": facts})
        elif part.sources:
            body.append(text(to_teams(part.text) + markers(part)))
        else:
            body.append(text(to_teams(part.text), size="Small", isSubtle=True))
    return body


def _facts(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in pairs if v]}


def _decision_line(approval: Approval, decided_by: str | None) -> str:
    who = decided_by or approval.decided_by or "someone"
    at = when(approval.decided_at)
    state = approval.state
    if state is ApprovalState.DENIED:
        return f"❌ Denied by {who} at {at}" + (f": {approval.decision_note}" if approval.decision_note else "")
    if state is ApprovalState.EXPIRED:
        return f"⌛ Expired at {when(approval.expires_at)} without a decision"
    changed = " with changes" if approval.edited else ""
    if state is ApprovalState.EXECUTED:
        summary = (approval.result or {}).get("summary", "done")
        return f"✅ Approved{changed} by {who} at {at}. {summary}"
    if state is ApprovalState.FAILED:
        return f"⚠️ Approved{changed} by {who} at {at}, but the action failed: {approval.last_error}"
    if state is ApprovalState.ROLLED_BACK:
        return f"↩️ Approved{changed} by {who} at {at}, then rolled back"
    return f"Approved{changed} by {who} at {at}; the action is {state.value}"


def approval_card(approval: Approval, *, summary: str, reason: str, decided_by: str | None = None) -> dict[str, Any]:
    """Pending: inputs and Approve / Approve with changes / Deny / Take over. Decided: who, when and the result."""
    body = [
        text(f"Approval needed: {approval.workflow}", weight="Bolder", size="Medium"),
        text(summary),
        _facts(
            [
                ("Why", reason),
                ("Org", approval.org or "—"),
                # one fact per input, saying where it came from: a value the customer never typed stands out
                *approval_input_facts(approval),
                ("Requested by", approval.requested_by),
                ("Approval", approval.id),
            ]
        ),
    ]
    # echoed back on every click, so a refreshed card can be drawn without storing it; not "reason": inputs
    # are merged into the data under their ids
    data = {"approval": approval.id, "conversation": approval.conversation_key or "", "summary": summary, "why": reason}
    if approval.state is not ApprovalState.PENDING:
        body.append(text(_decision_line(approval, decided_by), weight="Bolder", spacing="Medium"))
        return card(body)
    body.append(text(f"Expires {when(approval.expires_at)}", size="Small", isSubtle=True))
    if AMOUNT in approval.params:
        body.append(
            {
                "type": "Input.Number",
                "id": "amount",
                "label": f"New amount in dollars (proposed {money(approval.params[AMOUNT])})",
                "min": 0.01,
            }
        )
    body.append({"type": "Input.Text", "id": "reason", "label": "Reason (needed to deny) or note", "isMultiline": True})
    actions = [
        execute(words.APPROVE, APPROVE, data, style="positive"),
        execute(words.APPROVE_WITH_CHANGES, APPROVE_CHANGES, data),
        execute(words.DENY, DENY, data, style="destructive"),
    ]
    if approval.conversation_key:
        actions.append(execute(words.TAKE_OVER, TAKE_OVER, data))
    return card(body, actions)


def handoff_card(handoff: Handoff, *, summary: str, taken_by: str | None = None) -> dict[str, Any]:
    body = [
        text("A customer needs a person", weight="Bolder", size="Medium"),
        text(summary),
        _facts(
            [
                ("Why", handoff.reason),
                ("Org", handoff.org or "—"),
                ("What they said", handoff.summary),
                ("Assigned to", handoff.assigned_to or "unassigned"),
                ("Hand-off", handoff.id),
            ]
        ),
    ]
    if handoff.state is HandoffState.OPEN and not taken_by:
        data = {"handoff": handoff.id, "conversation": handoff.conversation_key, "summary": summary}
        return card(body, [execute(words.TAKE_OVER, TAKE_OVER, data, style="positive")])
    who = taken_by or handoff.claimed_by or "someone"
    body.append(text(f"🙋 {handoff.state.value.title()} by {who}", weight="Bolder", spacing="Medium"))
    return card(body)


def taken_over_card(conversation_key: str, who: str) -> dict[str, Any]:
    return card([text(f"🙋 {who} took over the conversation at {when(None)}.", weight="Bolder")])


def attachment(content: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": CARD_CONTENT_TYPE, "content": content}
