"""The digest's figures, computed from one week's fact rows. Pure functions, so every definition is testable.

Definitions (the README's "Weekly digest" section says the same in prose):

- conversation: a conversation with at least one customer message in the week. Per workflow, it counts for
  the workflow of its last routed decision in the week (what settled or escalated it).
- escalated: a hand-off was created for it in the week, or a staff member wrote in it.
- resolved: escalated ones when one of their hand-offs was closed in the week (at the close);
  the others when the bot's last decision in the week settled it: an answer with no negative
  feedback, an action taken, or a proposed action that was executed (at that moment).
- resolved without a human: resolved, not escalated, and no person approved or denied anything in it.
- cycle time: first customer message in the week to resolution, over resolved conversations.
- first-pass quality: share of answers (decisions with outcome `answered`) that got no negative
  feedback, no hand-off before the customer's next message (or within 30 minutes), and no re-ask
  (the next message within 30 minutes routed the same way and retrieved the same top document).
- approvals: action approvals requested in the week, by outcome: approved unchanged / approved
  with changes (both by a person), denied, expired, approved by policy, still pending.
- approval turnaround: request to a person's decision, over approvals a person decided.
- failed actions: approvals whose action ended failed in the week; rollbacks: actions rolled back in the week.
- cost per completed task: model cost of every decision in the week ÷ resolved conversations; "price unknown"
  when a decision called a model missing from LLM_PRICES (a free model, priced 0/0, is $0).
- model endpoint: of the decisions that called the model (or meant to), those where a call went unanswered
  (unreachable, too slow for the turn's deadline, or skipped by the open circuit): they were answered
  without it; and how often the circuit opened.
- rework hours avoided: resolved without a human × MINUTES_PER_TICKET ÷ 60.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from escalation.models import POLICY_AUTO
from scheduler.digest.queries import AnswerRow, ApprovalRow, ConversationRow, CostRow

_APPROVED_STATES = frozenset({"approved", "executing", "executed", "failed", "rolled_back"})
_SETTLED_BY_BOT = frozenset({"answered", "acted"})


@dataclass(frozen=True)
class WeekFacts:
    conversations: tuple[ConversationRow, ...] = ()
    answers: tuple[AnswerRow, ...] = ()
    approvals: tuple[ApprovalRow, ...] = ()
    costs: tuple[CostRow, ...] = ()

    def orgs(self) -> list[str | None]:
        found = {row.org for row in self.conversations} | {row.org for row in self.approvals}
        return sorted(found, key=lambda org: (org is not None, org or ""))

    def workflows(self) -> list[str]:
        found = {row.workflow for row in self.conversations if row.workflow}
        found |= {row.workflow for row in self.approvals} | {row.route for row in self.answers if row.route}
        return sorted(found)


@dataclass(frozen=True)
class Kpis:
    conversations: int = 0
    resolved: int = 0
    resolved_without_human: int = 0
    escalated: int = 0
    cycle_p50_s: float | None = None
    cycle_p90_s: float | None = None
    answers: int = 0
    first_pass_answers: int = 0
    approved: int = 0
    approved_with_changes: int = 0
    denied: int = 0
    expired: int = 0
    auto_approved: int = 0
    pending: int = 0
    approval_p50_s: float | None = None
    approval_p90_s: float | None = None
    failed_actions: int = 0
    rollbacks: int = 0
    decisions: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    rework_hours_avoided: float = 0.0
    model_turns: int = 0
    offline_turns: int = 0
    circuit_opened: int = 0
    cost_unknown: int = 0  # decisions whose cost is not known: `cost_usd` is then a lower bound

    @property
    def automation_rate(self) -> float | None:
        return _share(self.resolved_without_human, self.conversations)

    @property
    def escalation_rate(self) -> float | None:
        return _share(self.escalated, self.conversations)

    @property
    def first_pass_quality(self) -> float | None:
        return _share(self.first_pass_answers, self.answers)

    @property
    def cost_per_task(self) -> float | None:
        return self.cost_usd / self.resolved if self.resolved else None

    @property
    def decided_by_people(self) -> int:
        return self.approved + self.approved_with_changes + self.denied

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "automation_rate": self.automation_rate,
            "escalation_rate": self.escalation_rate,
            "first_pass_quality": self.first_pass_quality,
            "cost_per_task": self.cost_per_task,
        }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None  # None, not 0: an empty week has no rate


def percentile(values: Iterable[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont, numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def resolution(row: ConversationRow, end: datetime) -> tuple[datetime | None, bool]:
    """(when the conversation was resolved or None, whether that happened without a person)."""
    escalated = row.handed_off or row.staff_spoke
    if escalated:
        return row.human_closed_at, False
    settled: datetime | None = None
    if row.last_outcome in _SETTLED_BY_BOT and not (row.last_outcome == "answered" and row.last_negative):
        settled = row.last_at
    elif row.last_outcome == "proposed" and row.last_executed_at is not None and row.last_executed_at < end:
        # executed_at, not the state: an action rolled back later was still done in its week
        settled = row.last_executed_at
    return settled, settled is not None and not row.person_decided


def compute(
    facts: WeekFacts,
    *,
    end: datetime,
    minutes_per_ticket: float,
    org: str | None = None,
    workflow: str | None = None,
    all_orgs: bool = True,
) -> Kpis:
    """The figures for everything (`all_orgs`), or one org (`all_orgs=False`, `org` None = no org), or one
    workflow. A conversation counts once, for the workflow of its last routed decision in the week (the one
    that settled or escalated it); answers, approvals and cost count for the workflow they belong to."""

    def in_org(value: str | None) -> bool:
        return all_orgs or value == org

    conversations = [
        row for row in facts.conversations if in_org(row.org) and (workflow is None or row.workflow == workflow)
    ]
    answers = [row for row in facts.answers if in_org(row.org) and (workflow is None or row.route == workflow)]
    approvals = [row for row in facts.approvals if in_org(row.org) and (workflow is None or row.workflow == workflow)]
    costs = [row for row in facts.costs if in_org(row.org) and (workflow is None or row.route == workflow)]

    cycle, resolved, automated = [], 0, 0
    for row in conversations:
        resolved_at, without_human = resolution(row, end)
        if resolved_at is not None:
            resolved += 1
            automated += without_human
            cycle.append(max(0.0, (resolved_at - row.first_at).total_seconds()))

    requested = [row for row in approvals if row.created_in_week and row.kind == "action"]
    by_person = [row for row in requested if row.decided_by not in (None, POLICY_AUTO)]
    turnaround = [(row.decided_at - row.created_at).total_seconds() for row in by_person if row.decided_at]
    cost = sum(row.cost_usd for row in costs)
    return Kpis(
        conversations=len(conversations),
        resolved=resolved,
        resolved_without_human=automated,
        escalated=sum(1 for row in conversations if row.handed_off or row.staff_spoke),
        cycle_p50_s=percentile(cycle, 0.5),
        cycle_p90_s=percentile(cycle, 0.9),
        answers=len(answers),
        first_pass_answers=sum(
            1 for row in answers if not (row.negative_feedback or row.handed_off_after or row.reasked)
        ),
        approved=sum(1 for row in by_person if not row.edited and row.state in _APPROVED_STATES),
        approved_with_changes=sum(1 for row in by_person if row.edited),
        denied=sum(1 for row in requested if row.state == "denied"),
        expired=sum(1 for row in requested if row.state == "expired"),
        auto_approved=sum(1 for row in requested if row.decided_by == POLICY_AUTO),
        pending=sum(1 for row in requested if row.state == "pending"),
        approval_p50_s=percentile(turnaround, 0.5),
        approval_p90_s=percentile(turnaround, 0.9),
        failed_actions=sum(1 for row in approvals if row.failed_in_week),
        rollbacks=sum(1 for row in approvals if row.rolled_back_in_week),
        decisions=sum(row.decisions for row in costs),
        tokens=sum(row.tokens for row in costs),
        cost_usd=round(cost, 6),
        rework_hours_avoided=round(automated * minutes_per_ticket / 60, 2),
        model_turns=sum(row.model_turns for row in costs),
        offline_turns=sum(row.offline_turns for row in costs),
        circuit_opened=sum(row.circuit_opened for row in costs),
        cost_unknown=sum(row.cost_unknown for row in costs),
    )
