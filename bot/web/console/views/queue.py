"""Approvals and hand-offs waiting for a person, and deciding them from the console: through the conversation
core, like a Slack or Teams click, so the same authorization applies, every step is audited, and the customer
is told (their reply goes to the outbox, which each platform drains)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.demo.script import KEY_PREFIX as DEMO_PREFIX
from bot.services import Services
from escalation.models import Actor, Approval, ApprovalState, Handoff
from handlers.core import Core
from handlers.models import ActionKind, HandoffNotice, InboundAction, Outbound, Platform, Reply, StaffNote
from scheduler.outbox import Outbox

CONSOLE_CHANNEL = "console"  # where a console click comes from, as a Slack click comes from the staff channel


@dataclass(frozen=True)
class PendingApproval:
    approval: Approval
    age: timedelta
    expires_in: timedelta  # negative: overdue, the next expiry run hands it to a person


@dataclass(frozen=True)
class WaitingHandoff:
    handoff: Handoff
    age: timedelta


@dataclass(frozen=True)
class Queue:
    approvals: list[PendingApproval]
    handoffs: list[WaitingHandoff]


async def waiting(services: Services, *, now: datetime) -> Queue:
    """Pending approvals, the first to expire first; hand-offs not closed, oldest first."""
    pending = await services.escalation.list_approvals(states=(ApprovalState.PENDING,))
    approvals = sorted(
        (PendingApproval(a, now - a.created_at, a.expires_at - now) for a in pending), key=lambda p: p.expires_in
    )
    handoffs = [WaitingHandoff(h, now - h.created_at) for h in await services.escalation.handoffs.open_handoffs()]
    return Queue(approvals, handoffs)


@dataclass(frozen=True)
class ClickResult:
    message: str  # what the person who clicked is told
    changed: str | None  # the approval a decision changed; None when it was refused or lost a race


async def click(
    services: Services, core: Core, actor: Actor, kind: ActionKind, target: str, *, value: dict[str, Any] | None = None
) -> ClickResult:
    """Approve, deny, take over or hand back from the console. The core answers every click (refusals
    included, and audited by escalation); what it says to customers and staff channels goes to the outbox."""
    conversation = CONSOLE_CHANNEL
    if kind in (ActionKind.TAKE_OVER, ActionKind.HAND_BACK):
        conversation = (await services.escalation.handoffs.get(target)).conversation_key
    outbound = await core.handle(InboundAction(Platform.WEB, None, conversation, actor, kind, target, value or {}))
    notes = [item for item in outbound if isinstance(item, StaffNote)]
    await _queue(services, outbound, source=f"console:{actor.id}")
    changed = next((note.changed for note in notes if note.changed), None)
    return ClickResult(" ".join(note.text for note in notes) or "Done.", changed)


async def _queue(services: Services, outbound: list[Outbound], *, source: str) -> None:
    """What a click says to customers and staff channels goes to the outbox, which each platform drains: the
    customer's reply to their conversation, a note that refreshes the approval's card, a hand-off to staff.
    Demo conversations have no one to tell."""
    outbox = Outbox(services.pool)
    for item in outbound:
        if isinstance(item, Reply) and not item.conversation_key.startswith(DEMO_PREFIX):
            await outbox.add(
                kind="reply",
                source=source,
                conversation_key=item.conversation_key,
                text=item.text,
                payload={"decision_id": item.decision_id} if item.decision_id else None,
            )
        elif isinstance(item, StaffNote) and item.changed:
            approval = await services.escalation.approval(item.changed)
            if approval is None or (approval.conversation_key or "").startswith(DEMO_PREFIX):
                continue
            await outbox.add(
                kind="staff_note",
                source=source,
                conversation_key=approval.conversation_key,
                text=f"{item.text} (from the web console)",
                payload={"approval_id": item.changed},
            )
        elif isinstance(item, HandoffNotice) and not item.handoff.conversation_key.startswith(DEMO_PREFIX):
            await outbox.add(
                kind="handoff",
                source=source,
                recipient=item.handoff.assigned_to,
                conversation_key=item.handoff.conversation_key,
                text=item.text,
                payload={"handoff_id": item.handoff.id},
            )


async def close_handoff(services: Services, actor: Actor, handoff_id: str) -> Handoff:
    """Closing is a hand-off move of its own (no chat button has it): escalation checks and audits it."""
    return await services.escalation.handoffs.close(handoff_id, actor)
