"""The digest as plain text (terminal, outbox fallback) and Markdown (chat, email, pull requests)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from scheduler.digest import words
from scheduler.digest.format import kpi_lines, pct, row_summary
from scheduler.digest.model import EXCEPTION_TITLES, Breakdown, Digest, ExceptionItem, StageSuggestion
from scheduler.digest.words import EMPTY


@dataclass(frozen=True)
class Section:
    title: str
    lines: tuple[str, ...]


def exception_line(item: ExceptionItem, zone: str) -> str:
    where = " · ".join(part for part in (item.workflow, item.org) if part)
    explain = f" — explain: supportbot explain {item.decision_id}" if item.decision_id else ""
    when = item.at.astimezone(ZoneInfo(zone))
    return f"{item.ref}{f' ({where})' if where else ''} {when:%a %d %b %H:%M}: {item.detail}{explain}"


def stage_line(item: StageSuggestion, *, verb: str) -> str:
    return (
        f"{item.workflow}: {item.stage} → {item.target} ({'; '.join(item.reasons)}). "
        f"{verb}: supportbot autonomy set {item.workflow} {item.target} --by YOU"
    )


def _breakdown_lines(rows: tuple[Breakdown, ...]) -> tuple[str, ...]:
    return tuple(f"{row.name}: {row_summary(row.kpis)} (last week {row.previous.conversations} conv.)" for row in rows)


def sections(digest: Digest) -> list[Section]:
    """What every rendering shows, in reading order; empty sections are left out."""
    found: list[Section] = []
    if not digest.empty:
        if len(digest.by_org) > 1:
            found.append(Section(words.BY_ORG, _breakdown_lines(digest.by_org)))
        if digest.by_workflow:
            found.append(Section(words.BY_WORKFLOW, _breakdown_lines(digest.by_workflow)))
    for kind, title in EXCEPTION_TITLES.items():
        items = digest.exceptions_of(kind)
        if items:
            found.append(
                Section(words.counted(title, len(items)), tuple(exception_line(item, digest.zone) for item in items))
            )
    if digest.gaps:
        lines = tuple(
            f'{gap.count}× "{gap.example}" ('
            + ", ".join(f"{reason.replace('_', ' ')} {count}" for reason, count in sorted(gap.reasons.items()))
            + f"; {', '.join(gap.orgs)})"
            for gap in digest.gaps
        )
        found.append(Section(words.GAPS, lines))
    if digest.negative_feedback:
        lines = tuple(
            f'"{item.question}"'
            + (f" — {item.comment}" if item.comment else "")
            + (f" (answered from {item.document})" if item.document else "")
            + f" [{item.decision_id}]"
            for item in digest.negative_feedback
        )
        found.append(Section(words.counted(words.NEGATIVE_FEEDBACK, len(lines)), lines))
    if digest.documents:
        lines = tuple(
            f"{doc.title} ({doc.doc_key}): "
            + ", ".join(
                part
                for part in (
                    words.past_review(doc.review_by) if doc.stale else "",
                    words.owner(doc.owner) if doc.owner else words.NO_OWNER,
                )
                if part
            )
            for doc in digest.documents
        )
        found.append(Section(words.STALE_DOCUMENTS, lines))
    if digest.evaluation:
        drifting = sum(figure.drift for figure in digest.evaluation)
        title = words.EVALUATION + (f" ({drifting} drift{'s' if drifting != 1 else ''})" if drifting else "")
        found.append(Section(title, tuple(figure.line for figure in digest.evaluation)))
    if digest.held:
        found.append(Section(words.HELD_BACK, digest.held))
    if digest.promotions:
        lines = tuple(stage_line(item, verb=words.PROMOTE) for item in digest.promotions)
        found.append(Section(words.READY, lines))
    if digest.demotions:
        lines = tuple(stage_line(item, verb=words.DEMOTE) for item in digest.demotions)
        found.append(Section(words.QUALITY_DROPPED, lines))
    return found


def headline(digest: Digest) -> str:
    """One sentence: the outbox text and the chat notification preview."""
    if digest.empty:
        return f"{digest.title}. {EMPTY}"
    kpis = digest.kpis
    return (
        f"{digest.title}. {kpis.conversations} conversations, {pct(kpis.automation_rate)} resolved without a human, "
        f"{pct(kpis.escalation_rate)} escalated, {len(digest.exceptions)} exceptions."
    )


def render_text(digest: Digest) -> str:
    lines = [digest.title, f"{words.times_in(digest.zone)}.", ""]
    if digest.empty:
        lines += [EMPTY, words.last_week_conversations(digest.previous.conversations), ""]
    else:
        table = kpi_lines(digest.kpis, digest.previous, minutes_per_ticket=digest.minutes_per_ticket)
        width = max(len(line.label) for line in table)
        value_width = max(len(line.value) for line in table)
        lines.append(f"{'':{width}}  {'this week':{value_width}}  last week → change")
        lines += [
            f"{line.label:{width}}  {line.value:{value_width}}  {line.previous}"
            + (f" → {line.change}" if line.change else "")
            for line in table
        ]
        lines.append("")
    for section in sections(digest):
        lines.append(section.title)
        lines += [f"  - {line}" for line in section.lines]
        lines.append("")
    if not digest.exceptions:
        lines += [words.NO_EXCEPTIONS, ""]
    return "\n".join(lines).rstrip() + "\n"


def render_markdown(digest: Digest) -> str:
    lines = [f"# {digest.title}", "", f"_{words.times_in(digest.zone)}._", ""]
    if digest.empty:
        lines += [f"**{EMPTY}** {words.last_week_conversations(digest.previous.conversations)}", ""]
    else:
        lines += ["| KPI | this week | last week | change |", "|---|---|---|---|"]
        lines += [
            f"| {line.label} | {line.value} | {line.previous} | {line.change} |"
            for line in kpi_lines(digest.kpis, digest.previous, minutes_per_ticket=digest.minutes_per_ticket)
        ]
        lines.append("")
    for section in sections(digest):
        lines += [f"## {section.title}", ""]
        lines += [f"- {line}" for line in section.lines]
        lines.append("")
    if not digest.exceptions:
        lines += [words.NO_EXCEPTIONS, ""]
    return "\n".join(lines).rstrip() + "\n"
