"""A hand-off as the neutral `HandoffCard`: who it is for, its state, and Claim / Hand back / Close while open."""

from __future__ import annotations

from bot.presentation import words
from bot.presentation.model import Act, CardButton, Emphasis, HandoffCard
from escalation.models import Handoff, HandoffState


def handoff_title(handoff: Handoff) -> str:
    return f"{words.HANDOFF}: {handoff.reason}"


def _buttons(handoff: Handoff) -> tuple[CardButton, ...]:
    if handoff.state is HandoffState.CLOSED:
        return ()
    buttons = []
    if handoff.state is not HandoffState.CLAIMED:
        buttons.append(CardButton(Act.TAKE_OVER, words.CLAIM, handoff.id, Emphasis.PRIMARY))
    buttons.append(CardButton(Act.HAND_BACK, words.HAND_BACK, handoff.id))
    buttons.append(CardButton(Act.CLOSE, words.CLOSE, handoff.id))
    return tuple(buttons)


def handoff_card(
    handoff: Handoff, *, text: str, conversation_link: str | None = None, claimed_by: str | None = None
) -> HandoffCard:
    """`claimed_by`: the person who claimed it as this platform names them (the hand-off keeps their id)."""
    return HandoffCard(
        id=handoff.id,
        title=handoff_title(handoff),
        text=text,
        org=handoff.org or words.NONE,
        workflow=handoff.workflow or words.NONE,
        assigned_to=handoff.assigned_to or words.ANYONE,
        state=handoff.state.value,
        claimed_by=claimed_by or handoff.claimed_by,
        summary=handoff.summary,
        would_have_said=handoff.would_have_said,
        conversation_key=handoff.conversation_key,
        conversation_link=conversation_link,
        buttons=_buttons(handoff),
    )
