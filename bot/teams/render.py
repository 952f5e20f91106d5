"""Adaptive Cards (1.4, Universal Actions) for the neutral presentation: answers, approval and hand-off cards.

Pure functions: `bot.presentation.model` in, card JSON out; every word comes from `bot.presentation.words`.
Every act of the neutral cards has an `Action.Execute` verb here, so Teams staff can do on a card whatever Slack
staff can (Undo, Hand back and Close included).
"""

from __future__ import annotations

from typing import Any

from bot.presentation import words
from bot.presentation.markup import fitted_parts, markers, shorten, to_teams
from bot.presentation.model import Act, Answer, ApprovalCard, CardButton, Emphasis, HandoffCard, Outcome, Source

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ANSWER_LIMIT = 2400  # an answer in a card: longer ones are cut at a sentence, their sources say where more is
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"

# Action.Execute verbs; the interactions map them back to acts
APPROVE, APPROVE_CHANGES, DENY, TAKE_OVER = "approve", "approve_changes", "deny", "take_over"
UNDO, HAND_BACK, CLOSE = "undo", "hand_back", "close"
HELPFUL, NOT_HELPFUL, TALK_TO_HUMAN, REFRESH = "helpful", "not_helpful", "talk_to_human", "refresh"
VERBS = {
    Act.APPROVE: APPROVE,
    Act.APPROVE_WITH_CHANGES: APPROVE_CHANGES,
    Act.DENY: DENY,
    Act.TAKE_OVER: TAKE_OVER,
    Act.UNDO: UNDO,
    Act.HAND_BACK: HAND_BACK,
    Act.CLOSE: CLOSE,
    Act.HELPFUL: HELPFUL,
    Act.NOT_HELPFUL: NOT_HELPFUL,
    Act.TALK_TO_HUMAN: TALK_TO_HUMAN,
}
_STYLES = {Emphasis.PRIMARY: "positive", Emphasis.DANGER: "destructive"}


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


def _actions(buttons: tuple[CardButton, ...], data: dict[str, Any]) -> list[dict[str, Any]]:
    return [execute(b.label, VERBS[b.act], data, style=_STYLES.get(b.emphasis)) for b in buttons if b.act in VERBS]


def _facts(pairs: list[tuple[str, str | None]]) -> dict[str, Any]:
    return {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in pairs if v]}


def citation_line(source: Source) -> str:
    shown = f"[{source.title}]({source.url})" if source.url else source.title
    stale = f" — **{words.STALE_MARK} {words.PAST_REVIEW}**" if source.stale else ""
    return f"[{source.number}] {shown} ({source.age}){stale}"


def answer_card(answer: Answer) -> dict[str, Any]:
    """What the customer sees: the answer, numbered sources with their freshness, and feedback buttons."""
    body = answer_body(answer)
    if answer.sources:
        body.append(text(words.SOURCES, weight="Bolder", size="Small", spacing="Medium"))
        body += [text(citation_line(s), size="Small", spacing="None") for s in answer.sources]
    actions = [execute(b.label, VERBS[b.act], {"target": b.target}) for b in answer.buttons if b.act in VERBS]
    return card(body, actions)


def answer_body(answer: Answer) -> list[dict[str, Any]]:
    """The answer as TextBlocks (Markdown the card renders), a table row as a FactSet, each piece with its [n]
    sources, the closing pointer ("More in [1].") small and subtle; cut to ANSWER_LIMIT at a sentence."""
    if not answer.parts:
        return [text(to_teams(shorten(answer.text, ANSWER_LIMIT)))]
    body: list[dict[str, Any]] = []
    for part in fitted_parts(answer, ANSWER_LIMIT):
        if part.facts:
            facts = [{"title": fact.label, "value": to_teams(fact.value)} for fact in part.facts]
            facts[-1]["value"] += markers(part)
            body.append({"type": "FactSet", "facts": facts})
        elif part.sources:
            body.append(text(to_teams(part.text) + markers(part)))
        else:
            body.append(text(to_teams(part.text), size="Small", isSubtle=True))
    return body


def outcome_text(outcome: Outcome) -> str:
    mark = f"{outcome.mark} " if outcome.mark else ""
    lines = [f"{mark}{outcome.words}{words.by(outcome.decided_by)}{words.at(outcome.when)}"]
    lines += [f"{detail.label}: {detail.value}" for detail in outcome.details]
    return "\n\n".join(lines)


def approval_card(view: ApprovalCard) -> dict[str, Any]:
    """Pending: inputs and Approve / Approve with changes / Deny / Take over. Decided: who, when and the result,
    and Undo when the action can be rolled back."""
    body = [
        text(view.title, weight="Bolder", size="Medium"),
        *([text(view.summary)] if view.summary else []),
        _facts(
            [
                (words.WHY_A_HUMAN, view.reason),
                (words.ORG, view.org),
                # one fact per input, saying where it came from: a value the customer never typed stands out
                *((f.label, f.value) for f in view.inputs),
                (words.CUSTOMER, view.customer),
                (words.APPROVAL, view.id),
            ]
        ),
    ]
    # echoed back on every click, so a refreshed card can be drawn without storing it; not "reason": inputs
    # are merged into the data under their ids
    data = {
        "approval": view.id,
        "conversation": view.conversation_key or "",
        "summary": view.summary,
        "why": view.reason,
    }
    if view.outcome is not None:
        body.append(text(outcome_text(view.outcome), weight="Bolder", spacing="Medium"))
        return card(body, _actions(view.buttons, data))
    body.append(text(f"{words.EXPIRES} {view.expires}", size="Small", isSubtle=True))
    if view.amount is not None:
        label = words.new_amount(view.proposed_amount)
        body.append({"type": "Input.Number", "id": "amount", "label": label, "min": 0.01})
    body.append({"type": "Input.Text", "id": "reason", "label": words.REASON_OR_NOTE, "isMultiline": True})
    return card(body, _actions(view.buttons, data))


def handoff_card(view: HandoffCard) -> dict[str, Any]:
    body = [
        text(view.title, weight="Bolder", size="Medium"),
        text(view.text),
        _facts(
            [
                (words.ORG, view.org),
                (words.WORKFLOW, view.workflow),
                (words.ASSIGNED_TO, view.assigned_to),
                (words.STATE, view.state + words.by(view.claimed_by)),
                (words.SUMMARY, view.summary),
                (words.HANDOFF, view.id),
            ]
        ),
    ]
    if view.would_have_said:
        body.append(text(f"**{words.WOULD_HAVE_SAID}**\n\n{view.would_have_said}", spacing="Medium"))
    data = {"handoff": view.id, "conversation": view.conversation_key, "summary": view.text}
    return card(body, _actions(view.buttons, data))


def attachment(content: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": CARD_CONTENT_TYPE, "content": content}
