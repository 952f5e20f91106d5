"""Block Kit for the neutral presentation: answers with citations, approval and hand-off cards, notices, modals.

Pure functions: `bot.presentation.model` in, Slack JSON out; every word comes from `bot.presentation.words`.
Action ids are `sb:<act>` and the button value is the target id, so every click maps back to one
`InboundAction` without lookups.
"""

from __future__ import annotations

from typing import Any

from bot.presentation import words
from bot.presentation.markup import fitted_parts, markers, shorten, to_slack
from bot.presentation.model import (
    Act,
    Answer,
    ApprovalCard,
    CardButton,
    Emphasis,
    Field,
    HandoffCard,
    Notice,
    Outcome,
    Source,
)

Block = dict[str, Any]
TEXT_LIMIT = 2900  # Slack refuses section text over 3000 characters
ANSWER_LIMIT = 2400  # an answer is read in a thread: longer ones are cut at a sentence, their sources say where more is
MAX_FIELDS = 10  # a section holds at most ten fields
ACTION_PREFIX = "sb:"
APPROVE_WITH_CHANGES = f"{ACTION_PREFIX}{Act.APPROVE_WITH_CHANGES.value}"
HANDOFF_CLOSE = "sb:handoff_close"
MODAL_NOT_HELPFUL = "sb_not_helpful"
MODAL_DECIDE = "sb_decide"
_STYLES = {Emphasis.PRIMARY: "primary", Emphasis.DANGER: "danger"}


def escape(text: str) -> str:
    """Slack mrkdwn control characters; anything else a customer typed is shown as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def person(who: str) -> str:
    """A Slack user id as a mention; anyone else (a customer of another platform, a name) as text."""
    return f"<@{who}>" if who.startswith("U") else escape(who)


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


def action_id(act: str) -> str:
    """`sb:approve`; the hand-off's Close keeps the id its buttons have always had."""
    return HANDOFF_CLOSE if act == Act.CLOSE else f"{ACTION_PREFIX}{act}"


def _button(item: CardButton, *, confirm: Block | None = None) -> Block:
    return button(item.label, action_id(item.act), item.target, style=_STYLES.get(item.emphasis), confirm=confirm)


def _link(url: str | None) -> list[str]:
    return [f"<{url}|{words.OPEN_CONVERSATION}>"] if url else []


def citation_line(source: Source) -> str:
    title = escape(source.title)
    linked = f"<{source.url}|{title}>" if source.url else title
    stale = f" · {words.STALE_MARK} {words.PAST_REVIEW}" if source.stale else ""
    return f"[{source.number}] {linked} · {source.age}{stale}"


def reply_blocks(answer: Answer) -> list[Block]:
    blocks = answer_blocks(answer)
    if answer.sources:
        blocks.append(context(*(citation_line(s) for s in answer.sources)))
    if answer.buttons:
        blocks.append({"type": "actions", "elements": [_button(b) for b in answer.buttons]})
    return blocks


def answer_blocks(answer: Answer) -> list[Block]:
    """The answer in mrkdwn, cut to one section's worth: a table row as label/value fields, each piece with its
    [n] sources, the closing pointer ("More in [1].") in small print."""
    if not answer.parts:
        return [section(to_slack(shorten(answer.text, ANSWER_LIMIT)))]
    blocks: list[Block] = []
    for part in fitted_parts(answer, ANSWER_LIMIT):
        if part.facts and len(part.facts) <= MAX_FIELDS:
            fields = [f"*{to_slack(fact.label)}*\n{to_slack(fact.value)}" for fact in part.facts]
            fields[-1] += markers(part)
            blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": clip(f, 2000)} for f in fields]})
        elif part.sources or part.facts:
            blocks.append(section(to_slack(part.text) + markers(part)))
        else:
            blocks.append(context(to_slack(part.text)))
    return blocks


def reply_text(answer: Answer) -> str:
    """The message's `text`: what notifications show, in mrkdwn like the blocks."""
    return clip(to_slack(answer.text), 3900)


def _field(label: str, value: str) -> str:
    return f"*{label}*\n{value}"


def approval_card(card: ApprovalCard) -> list[Block]:
    """The card in the staff channel: everything an approver needs to decide without opening anything; once
    decided, who, when, outcome and result, the decision buttons gone (but Undo, while allowed)."""
    # each input on its own line, saying where it came from: a value the customer never typed stands out
    inputs = "\n".join(f"{escape(f.label)}={escape(f.value)}" for f in card.inputs)
    expires = f"<!date^{int(card.expires_at.timestamp())}^{{date_short_pretty}} {{time}}|{card.expires}>"
    fields = [
        _field(words.CUSTOMER, person(card.customer)),
        _field(words.ORG, escape(card.org)),
        _field(words.ACTION, f"`{card.workflow}` → `{card.action}`"),
        _field(words.INPUTS, inputs or words.NONE),
        _field(words.RISK, card.risk),
        _field(words.CONFIDENCE, card.confidence),
        _field(words.RULE, f"`{card.rule}`"),
        _field(words.EXPIRES, expires),
    ]
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(card.title, 150)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if card.request_text:
        blocks.append(section(f"*{words.IN_THEIR_WORDS}*\n>{escape(clip(card.request_text, 1500))}"))
    decision = f" · {words.DECISION} `{card.decision_id}`" if card.decision_id else ""
    blocks.append(
        context(f"{words.WHY_A_HUMAN}: {escape(card.reason)}", f"{card.id}{decision}", *_link(card.conversation_link))
    )
    if card.outcome is None:
        if card.buttons:
            elements = [_button(b, confirm=_confirm(card) if b.act is Act.APPROVE else None) for b in card.buttons]
            blocks.append({"type": "actions", "block_id": f"approval:{card.id}", "elements": elements})
        return blocks
    blocks.append(section(outcome_text(card.outcome)))
    if card.buttons:
        blocks.append({"type": "actions", "elements": [_button(b) for b in card.buttons]})
    return blocks


def _confirm(card: ApprovalCard) -> Block:
    return {
        "title": {"type": "plain_text", "text": words.CONFIRM_TITLE},
        "text": {"type": "mrkdwn", "text": card.confirm},
        "confirm": {"type": "plain_text", "text": words.APPROVE},
        "deny": {"type": "plain_text", "text": words.CANCEL},
    }


def outcome_text(outcome: Outcome) -> str:
    mark = f"{outcome.mark} " if outcome.mark else ""
    who = words.by(person(outcome.decided_by) if outcome.decided_by else None)
    lines = [f"*{mark}{outcome.words}*{who}{words.at(outcome.when)}"]
    lines += [_detail(detail) for detail in outcome.details]
    return "\n".join(lines)


def _detail(detail: Field) -> str:
    return f"{detail.label}: {escape(detail.value)}"


def card_text(card: ApprovalCard) -> str:
    """The message's `text` (notifications) for a card as it is now."""
    return card.notification if card.outcome is None else outcome_text(card.outcome)


def handoff_card(card: HandoffCard) -> list[Block]:
    state = card.state + words.by(person(card.claimed_by) if card.claimed_by else None)
    fields = [
        _field(words.ORG, escape(card.org)),
        _field(words.WORKFLOW, escape(card.workflow)),
        _field(words.ASSIGNED_TO, escape(card.assigned_to)),
        _field(words.STATE, state),
    ]
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(card.title, 150)}},
        section(escape(card.text)),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if card.summary:
        blocks.append(section(f"*{words.SUMMARY}*\n{escape(card.summary)}"))
    if card.would_have_said:
        blocks.append(section(f"*{words.WOULD_HAVE_SAID}*\n>{escape(clip(card.would_have_said, 1500))}"))
    blocks.append(context(card.id, *_link(card.conversation_link)))
    if card.buttons:
        blocks.append({"type": "actions", "elements": [_button(b) for b in card.buttons]})
    return blocks


def notice_blocks(notice: Notice) -> list[Block]:
    link = f"\n<{notice.conversation_link}|{words.OPEN_CONVERSATION}>" if notice.conversation_link else ""
    return [section(escape(notice.text) + link)]


def not_helpful_modal(decision_id: str, *, private_metadata: str) -> Block:
    return {
        "type": "modal",
        "callback_id": MODAL_NOT_HELPFUL,
        "private_metadata": private_metadata,
        "title": {"type": "plain_text", "text": words.WHAT_WAS_WRONG},
        "submit": {"type": "plain_text", "text": words.SEND},
        "close": {"type": "plain_text", "text": words.CANCEL},
        "blocks": [
            {
                "type": "input",
                "block_id": "comment",
                "optional": True,
                "label": {"type": "plain_text", "text": words.TELL_US_WHAT_WAS_WRONG},
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2000},
            },
            context(words.about_answer(decision_id)),
        ],
    }


def decide_modal(card: ApprovalCard, *, deny: bool, private_metadata: str) -> Block:
    """Deny asks for a reason; Approve with changes asks for the new amount (and an optional note)."""
    if deny:
        title, submit = words.DENY_TITLE, words.DENY
        inputs = [_text_input("reason", words.REASON_FOR_AUDIT, multiline=True, optional=False)]
    else:
        title, submit = words.APPROVE_WITH_CHANGES, words.APPROVE
        inputs = [
            _text_input("amount", words.NEW_AMOUNT_EXAMPLE, initial=card.amount or "", optional=False),
            _text_input("note", words.NOTE_OPTIONAL, multiline=True, optional=True),
        ]
    return {
        "type": "modal",
        "callback_id": MODAL_DECIDE,
        "private_metadata": private_metadata,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": words.CANCEL},
        "blocks": [section(f"`{card.action}` {escape(card.params)} for {escape(card.org)}"), *inputs],
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
