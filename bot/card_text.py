"""The words staff cards and answers say on every platform (Slack's Block Kit, the web playground): one place,
so a card reads the same wherever it is shown. Each renderer adds only its own markup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from escalation.formatting import AMOUNT, money
from escalation.models import Approval, ApprovalState

APPROVE = "Approve"
APPROVE_WITH_CHANGES = "Approve with changes"
DENY = "Deny"
TAKE_OVER = "Take over"
CLAIM = "Claim"
HAND_BACK = "Hand back to the bot"
CLOSE = "Close"
UNDO = "Undo"
IN_THEIR_WORDS = "In their words"
WHY_A_HUMAN = "Why a human"
WOULD_HAVE_SAID = "The bot would have said"
OPEN_CONVERSATION = "Open the conversation"
PAST_REVIEW = "past its review date"
DENY_REASON_MISSING = "Please give a reason; it is kept in the audit trail."
AMOUNT_EXAMPLE = "Enter an amount such as 35.00"
CLICK_FAILED = "Sorry, that did not work. Nothing was changed; please try again."

# what an approval's state means to the people reading its card
STATE_WORDS = {
    ApprovalState.APPROVED: "Approved, running",
    ApprovalState.EXECUTING: "Approved, running",
    ApprovalState.EXECUTED: "Approved and done",
    ApprovalState.FAILED: "Approved, but the action failed",
    ApprovalState.DENIED: "Denied",
    ApprovalState.EXPIRED: "Expired unanswered",
    ApprovalState.ROLLED_BACK: "Done, then undone",
}


def age(when: datetime, *, now: datetime | None = None) -> str:
    days = ((now or datetime.now(UTC)) - when).days
    if days <= 0:
        return "updated today"
    return f"updated {days} day{'s' if days != 1 else ''} ago"


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
    return f"{'Undo' if approval.rollback_of else 'Approval needed'}: {approval.action}{amount_line(approval)}"


def state_words(approval: Approval) -> str:
    return STATE_WORDS.get(approval.state, approval.state.value)


@dataclass(frozen=True)
class OutcomeLines:
    """A decided approval's outcome, a renderer formats each line (who decided is shown its own way)."""

    words: str
    decided_by: str | None
    when: str | None
    edited: bool
    note: str | None
    result: str | None
    error: str | None


def outcome_lines(approval: Approval) -> OutcomeLines:
    summary = (approval.result or {}).get("summary")
    return OutcomeLines(
        words=state_words(approval),
        decided_by=approval.decided_by,
        when=f"{approval.decided_at:%Y-%m-%d %H:%M} UTC" if approval.decided_at else None,
        edited=approval.edited,
        note=approval.decision_note,
        result=str(summary) if summary else None,
        error=approval.last_error if approval.state is ApprovalState.FAILED else None,
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
