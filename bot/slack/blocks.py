"""Block Kit for everything the core says: answers with citations, approval and hand-off cards, modals.

Pure functions: channel-neutral items in, Slack JSON out. Action ids are `sb:<ActionKind>` and the
button value is the target id, so every click maps back to one `InboundAction` without lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import card_text as words
from bot.answer_markup import fitted_parts, markers, shorten, to_slack
from bot.card_text import age, amount_line
from escalation.formatting import AMOUNT, approval_input_facts, describe_params
from escalation.models import Approval, ApprovalState, Handoff, HandoffState
from handlers.models import ActionKind, Button, Citation, Reply

Block = dict[str, Any]
TEXT_LIMIT = 2900  # Slack refuses section text over 3000 characters
ANSWER_LIMIT = 2400  # an answer is read in a thread: longer ones are cut at a sentence, their sources say where more is
MAX_FIELDS = 10  # a section holds at most ten fields
ACTION_PREFIX = "sb:"
APPROVE_WITH_CHANGES = "sb:approve_with_changes"
HANDOFF_CLOSE = "sb:handoff_close"
MODAL_NOT_HELPFUL = "sb_not_helpful"
MODAL_DECIDE = "sb_decide"


def escape(text: str) -> str:
    """Slack mrkdwn control characters; anything else a customer typed is shown as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(t, 2000)} for t in texts[:10]]}


def button(label: str, action_id: str, value: str, *, style: str | None = None, confirm: Block | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label[:75]},
        "action_id": action_id,
        "value": value[:2000],
    }
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def action_id(kind: ActionKind) -> str:
    return f"{ACTION_PREFIX}{kind.value}"


def citation_line(citation: Citation, *, now: datetime | None = None) -> str:
    title = escape(" › ".join((citation.title, *citation.heading_path)))
    linked = f"<{citation.url}|{title}>" if citation.url else title
    stale = f" · :warning: {words.PAST_REVIEW}" if citation.stale else ""
    return f"[{citation.number}] {linked} · {age(citation.updated_at, now=now)}{stale}"


def reply_blocks(reply: Reply, *, now: datetime | None = None) -> list[Block]:
    blocks = answer_blocks(reply)
    if reply.citations:
        blocks.append(context(*(citation_line(c, now=now) for c in reply.citations)))
    if reply.buttons:
        blocks.append({"type": "actions", "elements": [_reply_button(b) for b in reply.buttons]})
    return blocks


def answer_blocks(reply: Reply) -> list[Block]:
    """The answer in mrkdwn, cut to one section's worth: a table row as label/value fields, each piece with its
    [n] sources, the closing pointer ("More in [1].") in small print."""
    if not reply.parts:
        return [section(to_slack(shorten(reply.text, ANSWER_LIMIT)))]
    blocks: list[Block] = []
    for part in fitted_parts(reply, ANSWER_LIMIT):
        if part.facts and len(part.facts) <= MAX_FIELDS:
            fields = [f"*{to_slack(fact.label)}*\n{to_slack(fact.value)}" for fact in part.facts]
            fields[-1] += markers(part)
            blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": clip(f, 2000)} for f in fields]})
        elif part.sources or part.facts:
            blocks.append(section(to_slack(part.text) + markers(part)))
        else:
            blocks.append(context(to_slack(part.text)))
    return blocks


def reply_text(reply: Reply) -> str:
    """The message's `text`: what notifications show, in mrkdwn like the blocks."""
    return clip(to_slack(reply.text), 3900)


def _reply_button(item: Button) -> Block:
    return button(item.label, action_id(item.kind), item.target)


@dataclass(frozen=True)
class CardFacts:
    """What the approval card shows beyond the approval itself."""

    request_text: str | None  # the customer's words
    confidence: float | None
    reason: str  # why a human must decide
    thread_link: str | None


def approval_card(approval: Approval, facts: CardFacts) -> list[Block]:
    """The card in the staff channel: everything an approver needs to decide without opening anything."""
    request_text, confidence, reason, thread_link = (
        facts.request_text,
        facts.confidence,
        facts.reason,
        facts.thread_link,
    )
    title = words.approval_title(approval)
    # each input on its own line, saying where it came from: a value the customer never typed stands out
    inputs = "\n".join(f"{escape(key)}={escape(shown)}" for key, shown in approval_input_facts(approval))
    fields = [
        f"*Customer*\n<@{approval.requested_by}>"
        if approval.requested_by.startswith("U")
        else f"*Customer*\n{escape(approval.requested_by)}",
        f"*Org*\n{escape(approval.org or 'none')}",
        f"*Action*\n`{approval.workflow}` → `{approval.action}`",
        f"*Inputs*\n{inputs or 'none'}",
        f"*Risk*\n{approval.risk.value}",
        f"*Confidence*\n{f'{confidence:.2f}' if confidence is not None else 'n/a'}",
        f"*Rule*\n`{approval.rule}`",
        f"*Expires*\n<!date^{int(approval.expires_at.timestamp())}^{{date_short_pretty}} {{time}}|"
        f"{approval.expires_at:%Y-%m-%d %H:%M} UTC>",
    ]
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(title, 150)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if request_text:
        blocks.append(section(f"*{words.IN_THEIR_WORDS}*\n>{escape(clip(request_text, 1500))}"))
    blocks.append(
        context(
            f"{words.WHY_A_HUMAN}: {escape(reason)}",
            f"{approval.id}" + (f" · decision `{approval.decision_id}`" if approval.decision_id else ""),
            *([f"<{thread_link}|{words.OPEN_CONVERSATION}>"] if thread_link else []),
        )
    )
    if approval.state is ApprovalState.PENDING:
        blocks.append(
            {"type": "actions", "block_id": f"approval:{approval.id}", "elements": _decision_buttons(approval)}
        )
    return blocks


def _decision_buttons(approval: Approval) -> list[Block]:
    confirm = {
        "title": {"type": "plain_text", "text": "Approve?"},
        "text": {"type": "mrkdwn", "text": f"Run `{approval.action}`{amount_line(approval)} now?"},
        "confirm": {"type": "plain_text", "text": words.APPROVE},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    elements = [button(words.APPROVE, action_id(ActionKind.APPROVE), approval.id, style="primary", confirm=confirm)]
    if AMOUNT in approval.params:
        elements.append(button(words.APPROVE_WITH_CHANGES, APPROVE_WITH_CHANGES, approval.id))
    elements.append(button(words.DENY, action_id(ActionKind.DENY), approval.id, style="danger"))
    if approval.conversation_key:
        elements.append(button(words.TAKE_OVER, action_id(ActionKind.TAKE_OVER), approval.id))
    return elements


def decided_card(approval: Approval, facts: CardFacts, *, undoable: bool) -> list[Block]:
    """The same card after a decision: who, when, outcome and result; buttons gone (but Undo, while allowed)."""
    blocks = approval_card(approval, facts)
    blocks.append(section(outcome_text(approval)))
    if undoable:
        blocks.append({"type": "actions", "elements": [button(words.UNDO, action_id(ActionKind.UNDO), approval.id)]})
    return blocks


_STATE_EMOJI = {
    ApprovalState.APPROVED: ":hourglass:",
    ApprovalState.EXECUTING: ":hourglass:",
    ApprovalState.EXECUTED: ":white_check_mark:",
    ApprovalState.FAILED: ":x:",
    ApprovalState.DENIED: ":no_entry:",
    ApprovalState.EXPIRED: ":alarm_clock:",
    ApprovalState.ROLLED_BACK: ":leftwards_arrow_with_hook:",
}


def outcome_text(approval: Approval) -> str:
    outcome = words.outcome_lines(approval)
    emoji = f"{_STATE_EMOJI[approval.state]} " if approval.state in _STATE_EMOJI else ""
    decider = outcome.decided_by
    who = f" by <@{decider}>" if decider and decider.startswith("U") else (f" by {escape(decider)}" if decider else "")
    when = f" at {outcome.when}" if outcome.when else ""
    lines = [f"*{emoji}{outcome.words}*{who}{when}" + (" (amount changed)" if outcome.edited else "")]
    if outcome.note:
        lines.append(f"Note: {escape(outcome.note)}")
    if outcome.result:
        lines.append(f"Result: {escape(outcome.result)}")
    if outcome.error:
        lines.append(f"Error: {escape(outcome.error)}")
    return "\n".join(lines)


def handoff_card(handoff: Handoff, *, text: str, thread_link: str | None) -> list[Block]:
    fields = [
        f"*Org*\n{escape(handoff.org or 'none')}",
        f"*Workflow*\n{escape(handoff.workflow or 'none')}",
        f"*Assigned to*\n{escape(handoff.assigned_to or 'anyone')}",
        f"*State*\n{handoff.state.value}" + (f" by <@{handoff.claimed_by}>" if handoff.claimed_by else ""),
    ]
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(f"Hand-off: {handoff.reason}", 150)}},
        section(escape(text)),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if handoff.summary:
        blocks.append(section(f"*Summary*\n{escape(handoff.summary)}"))
    if handoff.would_have_said:
        blocks.append(section(f"*{words.WOULD_HAVE_SAID}*\n>{escape(clip(handoff.would_have_said, 1500))}"))
    blocks.append(context(handoff.id, *([f"<{thread_link}|{words.OPEN_CONVERSATION}>"] if thread_link else [])))
    if handoff.state is not HandoffState.CLOSED:
        elements = []
        if handoff.state is not HandoffState.CLAIMED:
            elements.append(button(words.CLAIM, action_id(ActionKind.TAKE_OVER), handoff.id, style="primary"))
        elements.append(button(words.HAND_BACK, action_id(ActionKind.HAND_BACK), handoff.id))
        elements.append(button(words.CLOSE, HANDOFF_CLOSE, handoff.id))
        blocks.append({"type": "actions", "elements": elements})
    return blocks


def not_helpful_modal(decision_id: str, *, private_metadata: str) -> Block:
    return {
        "type": "modal",
        "callback_id": MODAL_NOT_HELPFUL,
        "private_metadata": private_metadata,
        "title": {"type": "plain_text", "text": "What was wrong?"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "comment",
                "optional": True,
                "label": {"type": "plain_text", "text": "Tell us what was missing or wrong"},
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2000},
            },
            context(f"About answer `{decision_id}`"),
        ],
    }


def decide_modal(approval: Approval, *, deny: bool, private_metadata: str) -> Block:
    """Deny asks for a reason; Approve with changes asks for the new amount (and an optional note)."""
    if deny:
        title, submit = "Deny request", "Deny"
        inputs = [_text_input("reason", "Reason (shown in the audit trail)", multiline=True, optional=False)]
    else:
        title, submit = "Approve with changes", "Approve"
        current = approval.params.get(AMOUNT)
        initial = f"{int(current) / 100:.2f}" if isinstance(current, int) else ""
        inputs = [
            _text_input("amount", "New amount (e.g. 35.00)", initial=initial, optional=False),
            _text_input("note", "Note (optional)", multiline=True, optional=True),
        ]
    return {
        "type": "modal",
        "callback_id": MODAL_DECIDE,
        "private_metadata": private_metadata,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"`{approval.action}` {escape(describe_params(approval.params))} for {escape(approval.org or '')}"),
            *inputs,
        ],
    }


def _text_input(
    block_id: str, label: str, *, initial: str = "", multiline: bool = False, optional: bool = True
) -> Block:
    element: Block = {"type": "plain_text_input", "action_id": "value", "multiline": multiline, "max_length": 2000}
    if initial:
        element["initial_value"] = initial
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }
