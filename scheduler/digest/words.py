"""Every word of the weekly digest, for each rendering of it: plain text and Markdown (`scheduler.digest.render`),
Block Kit (`bot/slack/digest_render.py`) and the Adaptive Card (`bot/teams/digest_render.py`). The digest's
exception titles are in its model (`EXCEPTION_TITLES`)."""

from __future__ import annotations

EMPTY = "No conversations this week, so there are no rates to compare."
NO_EXCEPTIONS = "No exceptions this week."
BY_ORG = "By org"
BY_WORKFLOW = "By workflow"
GAPS = "Unanswered and low-confidence questions"
NEGATIVE_FEEDBACK = "Negative feedback"
STALE_DOCUMENTS = "Stale or ownerless documents"
EVALUATION = "Evaluation"
HELD_BACK = "Promotion held back by scenarios"
READY = "Ready for more autonomy"
QUALITY_DROPPED = "Quality dropped (consider less autonomy)"
AUTONOMY = "Autonomy"
AUTONOMY_NOTE = "buttons are for team leads; every change is audited"
PROMOTE = "Promote"
DEMOTE = "Demote"
NO_OWNER = "no owner"
YES = "Yes"
CANCEL = "Cancel"
THIS_WEEK = "this week"
LAST_WEEK = "last week"


def counted(title: str, count: int) -> str:
    return f"{title} ({count})"


def times_in(zone: str) -> str:
    return f"Times in {zone}"


def last_week_conversations(count: int) -> str:
    return f"Last week: {count} conversations."


def more(count: int, what: str = "") -> str:
    """`…and 3 more`, `…and 3 more sections`."""
    return f"…and {count} more{f' {what}' if what else ''}"


def move_label(*, promote: bool, target: str) -> str:
    return f"{PROMOTE if promote else DEMOTE} to {target}"


def move_question(workflow: str, stage: str, target: str) -> str:
    return f"Move {workflow} from {stage} to {target}?"


def past_review(since: object) -> str:
    return f"past review since {since}"


def owner(name: str) -> str:
    return f"owner {name}"
