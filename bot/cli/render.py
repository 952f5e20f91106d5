"""The terminal chat's renderer: the neutral presentation as lines of rich markup, one line per print.

Pure functions: `bot.presentation.model` in, console markup out; every word comes from `bot.presentation.words`.
"""

from __future__ import annotations

from rich.markup import escape

from bot.presentation import words
from bot.presentation.markup import shorten, to_plain
from bot.presentation.model import Answer, ApprovalCard, HandoffCard, Notice

ANSWER_LIMIT = 3000  # a terminal scrolls, but an answer longer than this is cut at a sentence
INDENT = "     "
STAFF = "[magenta]\\[staff][/]"


def answer_lines(answer: Answer, *, elsewhere: bool = False) -> list[str]:
    """`elsewhere`: the answer goes to another conversation than the one typed in (a hand-back, a follow-up)."""
    lines = [f"[dim](to conversation {escape(answer.conversation_key)})[/]"] if elsewhere else []
    lines.append(f"[bold cyan]bot>[/] {escape(to_plain(shorten(answer.text, ANSWER_LIMIT)))}")
    for source in answer.sources:
        stale = f" [yellow]{words.STALE_MARK} {words.PAST_REVIEW}[/]" if source.stale else ""
        where = f"[{source.number}] {source.title} — {source.url or words.NO_LINK} ({source.age})"
        lines.append(f"{INDENT}{escape(where)}{stale}")
    if answer.buttons:
        lines.append(f"{INDENT}[dim]" + " · ".join(escape(f"[{b.label}]") for b in answer.buttons) + "[/]")
    return lines


def approval_lines(card: ApprovalCard) -> list[str]:
    lines = [
        f"{STAFF} [magenta]{escape(card.title)} ({card.id})[/]: {escape(card.summary)} ({escape(card.reason)})"
        f" — /approve {card.id}"
    ]
    if card.inputs:
        inputs = "; ".join(f"{f.label}={f.value}" for f in card.inputs)
        lines.append(f"{INDENT}{words.INPUTS}: {escape(inputs)}")
    return lines


def handoff_lines(card: HandoffCard) -> list[str]:
    assigned = f"{words.ASSIGNED_TO}: {card.assigned_to}"
    return [f"{STAFF} [magenta]{escape(card.title)} ({card.id}, {escape(assigned)})[/]: {escape(card.text)}"]


def notice_lines(notice: Notice) -> list[str]:
    return [f"{STAFF} {escape(notice.text)}"]


def quiet_line() -> str:
    """Nothing was said: a person owns the conversation."""
    return f"[dim]{escape(words.PERSON_OWNS_CONVERSATION)}[/]"
