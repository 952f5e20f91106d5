"""The bot's reply in a conversation: recorded as the decision's outcome and as the conversation's next turn."""

from __future__ import annotations

from handlers.conversations import Conversation, ConversationStore
from handlers.decisions import DecisionRecord
from handlers.models import AnswerPart, Button, Citation, Outbound, Reply


async def say(
    conversations: ConversationStore,
    record: DecisionRecord,
    conversation: Conversation,
    text: str,
    *,
    outcome: str,
    citations: tuple[Citation, ...] = (),
    buttons: tuple[Button, ...] = (),
    parts: tuple[AnswerPart, ...] = (),
) -> list[Outbound]:
    record.outcome, record.reply = outcome, text
    await conversations.add_turn(conversation.key, role="bot", author="bot", text=text, decision_id=record.id)
    return [Reply(conversation.key, text, record.id, citations, buttons, parts)]
