"""An approval as the neutral `ApprovalCard`: its facts, its buttons while pending, its outcome once decided."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.presentation import words
from bot.presentation.model import Act, ApprovalCard, CardButton, Emphasis, Field, Outcome
from escalation.formatting import AMOUNT, approval_input_facts, describe_params, money
from escalation.models import Approval, ApprovalState


@dataclass(frozen=True)
class CardContext:
    """What the card shows beyond the approval itself; each platform finds it its own way."""

    reason: str  # why a human must decide
    summary: str = ""  # what the customer was told
    request_text: str | None = None  # the customer's words
    confidence: float | None = None
    conversation_link: str | None = None
    decided_by: str | None = None  # the decider as this platform names them; the approval's id for them if None
    undoable: bool = False  # an executed action whose workflow can roll it back


def amount_line(approval: Approval) -> str:
    """` $35.00 (proposed $40.00)` after an edit, ` $40.00` otherwise, empty for actions without an amount."""
    amount = approval.params.get(AMOUNT)
    proposed = approval.proposed_params.get(AMOUNT)
    if amount is None:
        return ""
    if approval.edited and proposed is not None and proposed != amount:
        return f" {money(amount)} (proposed {money(proposed)})"
    return f" {money(amount)}"


def approval_title(approval: Approval) -> str:
    kind = words.UNDO_NEEDED if approval.rollback_of else words.APPROVAL_NEEDED
    return f"{kind}: {approval.action}{amount_line(approval)}"


def outcome_of(approval: Approval, *, decided_by: str | None = None) -> Outcome:
    summary = (approval.result or {}).get("summary")
    details = [
        *([Field(words.NOTE, approval.decision_note)] if approval.decision_note else []),
        *([Field(words.RESULT, str(summary))] if summary else []),
        *(
            [Field(words.ERROR, approval.last_error)]
            if approval.state is ApprovalState.FAILED and approval.last_error
            else []
        ),
    ]
    return Outcome(
        mark=words.outcome_mark(approval.state),
        words=words.outcome_words(approval.state, edited=approval.edited),
        decided_by=decided_by or approval.decided_by,
        when=words.utc(approval.decided_at) if approval.decided_at else None,
        details=tuple(details),
        bad=approval.state in words.BAD_OUTCOMES,
    )


def _buttons(approval: Approval, *, undoable: bool) -> tuple[CardButton, ...]:
    if approval.state is not ApprovalState.PENDING:
        return (CardButton(Act.UNDO, words.UNDO, approval.id),) if undoable else ()
    buttons = [CardButton(Act.APPROVE, words.APPROVE, approval.id, Emphasis.PRIMARY)]
    if AMOUNT in approval.params:
        buttons.append(CardButton(Act.APPROVE_WITH_CHANGES, words.APPROVE_WITH_CHANGES, approval.id))
    buttons.append(CardButton(Act.DENY, words.DENY, approval.id, Emphasis.DANGER))
    if approval.conversation_key:
        buttons.append(CardButton(Act.TAKE_OVER, words.TAKE_OVER, approval.id))
    return tuple(buttons)


def approval_card(approval: Approval, context: CardContext) -> ApprovalCard:
    amount = approval.params.get(AMOUNT)
    confidence = context.confidence
    return ApprovalCard(
        id=approval.id,
        title=approval_title(approval),
        notification=f"{words.APPROVAL_NEEDED}: {approval.action} for {approval.org}",
        summary=context.summary,
        reason=context.reason,
        customer=approval.requested_by,
        org=approval.org or words.NONE,
        workflow=approval.workflow,
        action=approval.action,
        inputs=tuple(Field(key, shown) for key, shown in approval_input_facts(approval)),
        params=describe_params(approval.params),
        risk=approval.risk.value,
        confidence=f"{confidence:.2f}" if confidence is not None else words.NOT_KNOWN,
        rule=approval.rule,
        expires_at=approval.expires_at,
        expires=words.utc(approval.expires_at),
        request_text=context.request_text,
        decision_id=approval.decision_id,
        conversation_key=approval.conversation_key,
        conversation_link=context.conversation_link,
        confirm=words.run_now(approval.action, amount_line(approval)),
        amount=f"{amount / 100:.2f}" if isinstance(amount, int) else None,
        proposed_amount=money(amount) if amount is not None else None,
        buttons=_buttons(approval, undoable=context.undoable),
        outcome=None
        if approval.state is ApprovalState.PENDING
        else outcome_of(approval, decided_by=context.decided_by),
    )


def parse_amount(text: str) -> int | None:
    """`35`, `35.00`, `$1,234.5` → cents; None for anything else."""
    cleaned = text.strip().replace("$", "").replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        return None
    return int(value * 100)
