"""Every word the bot shows around its answers: button labels, card headings and labels, approval and hand-off
states, notices after a click. One place, so a card reads the same on Slack, Teams, the web playground and the
terminal; each renderer adds only its platform's markup."""

from __future__ import annotations

from datetime import UTC, datetime

from escalation.models import ApprovalState

# buttons
APPROVE = "Approve"
APPROVE_WITH_CHANGES = "Approve with changes"
DENY = "Deny"
TAKE_OVER = "Take over"
CLAIM = "Claim"
HAND_BACK = "Hand back to the bot"
CLOSE = "Close"
UNDO = "Undo"
SEND = "Send"
CANCEL = "Cancel"

# card headings and labels
APPROVAL_NEEDED = "Approval needed"
UNDO_NEEDED = "Undo"
HANDOFF = "Hand-off"
IN_THEIR_WORDS = "In their words"
WHY_A_HUMAN = "Why a human"
WOULD_HAVE_SAID = "The bot would have said"
OPEN_CONVERSATION = "Open the conversation"
SUMMARY = "Summary"
CUSTOMER = "Customer"
ORG = "Org"
ACTION = "Action"
INPUTS = "Inputs"
RISK = "Risk"
CONFIDENCE = "Confidence"
RULE = "Rule"
EXPIRES = "Expires"
WORKFLOW = "Workflow"
ASSIGNED_TO = "Assigned to"
STATE = "State"
APPROVAL = "Approval"
DECISION = "decision"
NOTE = "Note"
RESULT = "Result"
ERROR = "Error"
NONE = "none"
ANYONE = "anyone"
NOT_KNOWN = "n/a"
SOURCES = "Sources"
PAST_REVIEW = "past its review date"
STALE_MARK = "⚠"
NO_LINK = "no link"
NOTE_FOR_STAFF = "Note for staff"
WHY_THIS_ANSWER = "Why this answer"

# dialogs and forms around a decision
CONFIRM_TITLE = "Approve?"
DENY_TITLE = "Deny request"
REASON_FOR_AUDIT = "Reason (shown in the audit trail)"
NEW_AMOUNT = "New amount"
NEW_AMOUNT_EXAMPLE = "New amount (e.g. 35.00)"
NOTE_OPTIONAL = "Note (optional)"
REASON = "Reason"
REASON_OR_NOTE = "Reason (needed to deny) or note"
WHAT_WAS_WRONG = "What was wrong?"
TELL_US_WHAT_WAS_WRONG = "Tell us what was missing or wrong"

# what a click is answered with when it did not simply work
DENY_REASON_MISSING = "Please give a reason; it is kept in the audit trail."
AMOUNT_EXAMPLE = "Enter an amount such as 35.00"
CLICK_FAILED = "Sorry, that did not work. Nothing was changed; please try again."
ALREADY_DONE = "Already done."
ALREADY_HAVE_FEEDBACK = "Thanks, we already have that."
NOTHING_CHANGED = "Nothing changed."
DONE = "Done."
UNDO_ASKED = "Undo asked for: it needs its own approval, on the card just posted in the staff channel."
THANKS = "Thanks."
BUTTON_NOT_UNDERSTOOD = "This button is not understood; the card may be out of date."
PERSON_OWNS_CONVERSATION = "(the bot stays quiet: a person owns this conversation)"

WITH_CHANGES = " with changes"
# what an approval's state means to the people reading its card: a mark, and words ({changes}: an edited amount)
_OUTCOMES = {
    ApprovalState.APPROVED: ("⏳", "Approved{changes}, running"),
    ApprovalState.EXECUTING: ("⏳", "Approved{changes}, running"),
    ApprovalState.EXECUTED: ("✅", "Approved{changes} and done"),
    ApprovalState.FAILED: ("⚠️", "Approved{changes}, but the action failed"),
    ApprovalState.DENIED: ("❌", "Denied"),
    ApprovalState.EXPIRED: ("⌛", "Expired unanswered"),
    ApprovalState.ROLLED_BACK: ("↩️", "Done, then undone"),
}
# decided, but not as hoped: shown as a failure where a platform colours outcomes
BAD_OUTCOMES = frozenset({ApprovalState.FAILED, ApprovalState.DENIED, ApprovalState.EXPIRED})


def outcome_mark(state: ApprovalState) -> str:
    return _OUTCOMES[state][0] if state in _OUTCOMES else ""


def outcome_words(state: ApprovalState, *, edited: bool = False) -> str:
    if state not in _OUTCOMES:
        return state.value
    return _OUTCOMES[state][1].format(changes=WITH_CHANGES if edited else "")


def by(who: str | None) -> str:
    """` by Lena`, or nothing when nobody is known."""
    return f" by {who}" if who else ""


def at(when: str | None) -> str:
    return f" at {when}" if when else ""


def utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def age(when: datetime, *, now: datetime | None = None) -> str:
    """How fresh a source is: `updated today`, `updated 3 days ago`."""
    days = ((now or datetime.now(UTC)) - when).days
    if days <= 0:
        return "updated today"
    return f"updated {days} day{'s' if days != 1 else ''} ago"


def gone(item_id: str) -> str:
    return f"{item_id} no longer exists."


def new_amount(proposed: str | None) -> str:
    return f"{NEW_AMOUNT} (proposed {proposed})" if proposed else NEW_AMOUNT


def out_of_date(detail: str) -> str:
    return f"That button is out of date ({detail})."


def about_answer(decision_id: str) -> str:
    return f"About answer `{decision_id}`"


def run_now(action: str, amount: str) -> str:
    """The question before an approval runs: `Run `refund` $30.00 now?` (light Markdown)."""
    return f"Run `{action}`{amount} now?"


def staff_notice(item_id: str, text: str, *, reason: str | None = None) -> str:
    """One line for a card that could not be shown as a card (an outbox record, a terminal)."""
    kind = APPROVAL_NEEDED if item_id.startswith("apr_") else HANDOFF
    return f"{kind} {item_id}: {text}" + (f" ({reason})" if reason else "")
