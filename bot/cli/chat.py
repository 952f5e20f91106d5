"""`supportbot chat`: the whole core in a terminal, as a customer or as staff, on the embedded database."""

from __future__ import annotations

import asyncio
import secrets
import sys
from typing import Annotated

import typer
from rich.console import Console

from bot.cli import render
from bot.cli.common import run_async, settings
from bot.core_factory import open_core
from bot.presentation.answer import answer_view
from bot.presentation.approval import CardContext, approval_card
from bot.presentation.handoff import handoff_card
from bot.presentation.model import Notice
from bot.services import Services, open_serving_services
from bot.telemetry import configure_tracing
from escalation.models import Actor, ApprovalState, Role
from handlers.core import Core
from handlers.decisions import DecisionStore
from handlers.explain.chain import DecisionExplainer
from handlers.models import (
    ActionKind,
    ApprovalRequest,
    HandoffNotice,
    InboundAction,
    InboundMessage,
    Outbound,
    Platform,
    Reply,
)
from handlers.text import clean_text
from handlers.turns import answer_now

out = Console(highlight=False)
HELP = """Type a message as the customer. Commands:
  /as customer|staff       switch who is typing (staff messages take the conversation over)
  /approvals               pending approvals          /approve ID [AMOUNT]   approve (AMOUNT: a new amount, 35.00)
  /deny ID REASON          deny with a reason         /undo ID               request the rollback of an executed action
  /handback                give the conversation back to the bot
  /helpful  /unhelpful     feedback on the last answer
  /explain [DECISION]      how the last (or a given) decision was made
  /quit"""


def lines_of(item: Outbound, *, conversation_key: str) -> list[str]:
    """The item as the terminal renderer lays it out (`bot/cli/render.py`)."""
    if isinstance(item, Reply):
        return render.answer_lines(answer_view(item), elsewhere=item.conversation_key != conversation_key)
    if isinstance(item, ApprovalRequest):
        return render.approval_lines(approval_card(item.approval, CardContext(reason=item.reason, summary=item.text)))
    if isinstance(item, HandoffNotice):
        return render.handoff_lines(handoff_card(item.handoff, text=item.text))
    return render.notice_lines(Notice(item.text))


def show(item: Outbound, *, conversation_key: str) -> None:
    for line in lines_of(item, conversation_key=conversation_key):
        out.print(line, markup=True)


class ChatSession:
    def __init__(self, core: Core, services: Services, *, org: str | None, role: Role) -> None:
        self.core, self.services, self.org, self.role = core, services, org, role
        self.key = f"cli:{secrets.token_hex(4)}"
        self.customer = Actor("cli-customer", Role.CUSTOMER, display_name="You")
        self.staff = Actor(
            "cli-staff", Role.LEAD, frozenset({"support-leads", "billing", "security", "shipping"}), "Staff (you)"
        )
        self.last_decision: str | None = None

    async def say(self, text: str) -> None:
        actor = self.customer if self.role is Role.CUSTOMER else self.staff
        # the same turn rules as Slack and Teams (time limit, apology with a hand-off), without the queue:
        # the terminal is one person waiting for one answer
        inbound = InboundMessage(Platform.CLI, self.org, self.key, actor, clean_text(text))
        outbound = await answer_now(self.core, inbound, seconds=self.services.settings.turn_timeout)
        self._show(outbound)

    async def act(self, kind: ActionKind, target: str, **value: object) -> None:
        actor = self.customer if kind in {ActionKind.HELPFUL, ActionKind.NOT_HELPFUL} else self.staff
        outbound = await self.core.handle(InboundAction(Platform.CLI, self.org, self.key, actor, kind, target, value))
        self._show(outbound)

    def _show(self, outbound: list[Outbound]) -> None:
        for item in outbound:
            show(item, conversation_key=self.key)
            if isinstance(item, Reply) and item.decision_id and item.conversation_key == self.key:
                self.last_decision = item.decision_id
        if not outbound:
            out.print(render.quiet_line(), markup=True)

    async def command(self, line: str) -> bool:
        """Run a /command; False means quit."""
        parts = line.split(maxsplit=2)
        name, args = parts[0].lower(), parts[1:]
        if name in {"/quit", "/exit"}:
            return False
        if name == "/as" and args and args[0] in {"customer", "staff"}:
            self.role = Role.CUSTOMER if args[0] == "customer" else Role.LEAD
            out.print(f"[dim]now typing as {args[0]}[/]", markup=True)
        elif name == "/approvals":
            pending = await self.services.escalation.list_approvals(states=(ApprovalState.PENDING,))
            for a in pending:
                out.print(f"  {a.id} {a.workflow}: {a.params} (requested by {a.requested_by})")
            out.print(f"[dim]{len(pending)} pending[/]", markup=True)
        elif name == "/approve" and args:
            amount = round(float(args[1].lstrip("$")) * 100) if len(args) > 1 else None
            await self.act(ActionKind.APPROVE, args[0], **({"amount_cents": amount} if amount else {}))
        elif name == "/deny" and len(args) == 2:
            await self.act(ActionKind.DENY, args[0], reason=args[1])
        elif name == "/undo" and args:
            await self.act(ActionKind.UNDO, args[0])
        elif name == "/handback":
            await self.act(ActionKind.HAND_BACK, self.key)
        elif name in {"/helpful", "/unhelpful"} and self.last_decision:
            kind = ActionKind.HELPFUL if name == "/helpful" else ActionKind.NOT_HELPFUL
            await self.act(kind, self.last_decision, **({"comment": args[0]} if args else {}))
        elif name == "/explain" and (args or self.last_decision):
            await self._explain(args[0] if args else self.last_decision or "")
        else:
            out.print(HELP)
        return True

    async def _explain(self, decision_id: str) -> None:
        try:
            explainer = DecisionExplainer(DecisionStore(self.services.pool), self.services.escalation)
            out.print(await explainer.explain(decision_id), markup=False)
        except ValueError as exc:
            out.print(str(exc))


async def _next_line(scripted: list[str] | None) -> str | None:
    """The next line typed (or piped in); None at the end."""
    if scripted is not None:
        return scripted.pop(0) if scripted else None
    try:
        return await asyncio.to_thread(input, "you> ")
    except EOFError:
        return None


@run_async
async def chat(
    org: Annotated[str | None, typer.Option(help="Chat as a customer of this org (e.g. globex).")] = None,
    as_role: Annotated[str, typer.Option("--as", help="customer or staff.")] = "customer",
) -> None:
    """Chat with the bot in the terminal: answers with citations, workflows, approvals, explanations."""
    if as_role not in {"customer", "staff"}:
        raise typer.BadParameter("use customer or staff", param_hint="--as")
    scripted = None if sys.stdin.isatty() else (await asyncio.to_thread(sys.stdin.read)).splitlines()
    config = settings()
    configure_tracing()  # trace ids on decision records, and spans over OTLP when configured
    async with open_serving_services(config) as services, open_core(services) as core:
        await services.escalation.recover()
        session = ChatSession(
            core, services, org=org.lower() if org else None, role=Role.CUSTOMER if as_role == "customer" else Role.LEAD
        )
        if scripted is None:
            out.print(f"Supportbot chat ({'org ' + session.org if session.org else 'no org'}). /help for commands.")
        while (line := await _next_line(scripted)) is not None:
            text = line.strip()
            if scripted is not None and text:
                out.print(f"[bold]you>[/] {text}", markup=True)
            if text.startswith("/"):
                if not await session.command(text):
                    break
            elif text:
                await session.say(line)
