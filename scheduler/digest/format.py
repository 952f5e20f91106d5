"""How digest figures read to people, shared by the text, Markdown, Slack and Teams renderings."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.digest.kpis import Kpis

UP, DOWN, FLAT = "▲", "▼", "="
NONE = "—"


@dataclass(frozen=True)
class KpiLine:
    label: str
    value: str
    previous: str
    change: str  # "▲ 3 (+25%)", "▼ 4 pts", "=" or "" when there is nothing to compare


def pct(value: float | None) -> str:
    return NONE if value is None else f"{value:.0%}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m" + (f" {secs}s" if secs else "")
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h" + (f" {minutes}m" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days}d" + (f" {hours}h" if hours else "")


def money(value: float | None) -> str:
    if value is None:
        return NONE
    return f"${value:,.4f}" if 0 < abs(value) < 0.01 else f"${value:,.2f}"


def _count_change(now: float, before: float) -> str:
    if now == before:
        return FLAT
    arrow = UP if now > before else DOWN
    diff = now - before
    shown = f"{abs(diff):,.0f}" if float(diff).is_integer() else f"{abs(diff):,.2f}"
    relative = f" ({diff / before:+.0%})" if before else ""
    return f"{arrow} {shown}{relative}"


def _rate_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    points = round((now - before) * 100)
    if points == 0:
        return FLAT
    return f"{UP if points > 0 else DOWN} {abs(points)} pts"


def _relative_change(now: float | None, before: float | None) -> str:
    if now is None or before is None or before == 0:
        return ""
    if now == before:
        return FLAT
    return f"{UP if now > before else DOWN} {abs(now - before) / before:.0%}"


def _rate_with_count(part: int, rate: float | None) -> str:
    return NONE if rate is None else f"{part} ({rate:.0%})"


def kpi_lines(now: Kpis, before: Kpis, *, minutes_per_ticket: float) -> list[KpiLine]:
    """The main KPIs with week-over-week change: counts by difference, rates in percentage points."""
    decided_now = f"{now.approved} / {now.approved_with_changes} / {now.denied} / {now.expired}"
    decided_before = f"{before.approved} / {before.approved_with_changes} / {before.denied} / {before.expired}"
    return [
        KpiLine(
            "Conversations",
            f"{now.conversations:,}",
            f"{before.conversations:,}",
            _count_change(now.conversations, before.conversations),
        ),
        KpiLine(
            "Resolved without a human",
            _rate_with_count(now.resolved_without_human, now.automation_rate),
            _rate_with_count(before.resolved_without_human, before.automation_rate),
            _rate_change(now.automation_rate, before.automation_rate),
        ),
        KpiLine(
            "Escalation rate",
            _rate_with_count(now.escalated, now.escalation_rate),
            _rate_with_count(before.escalated, before.escalation_rate),
            _rate_change(now.escalation_rate, before.escalation_rate),
        ),
        KpiLine(
            "Cycle time p50 / p90",
            f"{duration(now.cycle_p50_s)} / {duration(now.cycle_p90_s)}",
            f"{duration(before.cycle_p50_s)} / {duration(before.cycle_p90_s)}",
            _relative_change(now.cycle_p50_s, before.cycle_p50_s),
        ),
        KpiLine(
            "First-pass quality",
            NONE if now.first_pass_quality is None else f"{now.first_pass_quality:.0%} of {now.answers} answers",
            NONE if before.first_pass_quality is None else f"{before.first_pass_quality:.0%} of {before.answers}",
            _rate_change(now.first_pass_quality, before.first_pass_quality),
        ),
        KpiLine(
            "Approval turnaround p50 / p90",
            f"{duration(now.approval_p50_s)} / {duration(now.approval_p90_s)}",
            f"{duration(before.approval_p50_s)} / {duration(before.approval_p90_s)}",
            _relative_change(now.approval_p50_s, before.approval_p50_s),
        ),
        KpiLine(
            "Approved / with changes / denied / expired",
            decided_now + (f" (+{now.auto_approved} by policy)" if now.auto_approved else ""),
            decided_before,
            "",
        ),
        KpiLine(
            "Failed actions / rollbacks",
            f"{now.failed_actions} / {now.rollbacks}",
            f"{before.failed_actions} / {before.rollbacks}",
            _count_change(now.failed_actions + now.rollbacks, before.failed_actions + before.rollbacks),
        ),
        KpiLine("Cost per completed task", cost_per_task(now), cost_per_task(before), _cost_change(now, before)),
        KpiLine(
            "Rework hours avoided",
            f"{now.rework_hours_avoided:g} h ({now.resolved_without_human} × {minutes_per_ticket:g} min)",
            f"{before.rework_hours_avoided:g} h",
            _count_change(now.rework_hours_avoided, before.rework_hours_avoided),
        ),
        *_model_lines(now, before),
    ]


def cost_per_task(kpis: Kpis) -> str:
    """Never $0 for calls nobody priced: "price unknown", with what is known as a lower bound."""
    if not kpis.cost_unknown or kpis.cost_per_task is None:
        return money(kpis.cost_per_task)
    if kpis.cost_usd == 0:
        return "price unknown"
    return f"≥ {money(kpis.cost_per_task)} (some prices unknown)"


def _cost_change(now: Kpis, before: Kpis) -> str:
    # a change against a cost nobody knows would be made up
    return "" if now.cost_unknown or before.cost_unknown else _relative_change(now.cost_per_task, before.cost_per_task)


def model_endpoint(kpis: Kpis) -> str:
    """How many turns went without the model because it was unreachable or slow, and how often the circuit opened."""
    if not kpis.model_turns:
        return NONE
    opened = f"; circuit opened {kpis.circuit_opened}×" if kpis.circuit_opened else ""
    return f"{kpis.offline_turns} of {kpis.model_turns:,} turns answered offline (model unreachable or slow{opened})"


def _model_lines(now: Kpis, before: Kpis) -> list[KpiLine]:
    if not (now.model_turns or before.model_turns):
        return []  # no model configured: nothing to say about one
    return [
        KpiLine(
            "Model endpoint",
            model_endpoint(now),
            model_endpoint(before),
            _count_change(now.offline_turns, before.offline_turns),
        )
    ]


def row_summary(kpis: Kpis) -> str:
    """One line per org or workflow, for tables that have no room for every column."""
    parts = [f"{kpis.conversations} conv."]
    if kpis.conversations:
        parts += [f"{pct(kpis.automation_rate)} automated", f"{pct(kpis.escalation_rate)} escalated"]
    if kpis.answers:
        parts.append(f"first-pass {pct(kpis.first_pass_quality)}")
    decided = kpis.decided_by_people + kpis.expired
    if decided:
        parts.append(f"approvals {kpis.approved}/{kpis.approved_with_changes}/{kpis.denied}/{kpis.expired}")
    if kpis.failed_actions or kpis.rollbacks:
        parts.append(f"{kpis.failed_actions} failed, {kpis.rollbacks} rolled back")
    return ", ".join(parts)
