"""The last eight weeks of the main KPIs as a PNG, attached to the digest post."""

from __future__ import annotations

import io

# A bare Figure draws on the Agg canvas without pyplot: no GUI backend, no global figure registry to leak
# in a long-running scheduler, and safe to call from several threads.
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from scheduler.digest.model import Digest

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 5.0, 100  # 1000 × 500 px: readable in a Slack or Teams preview
RATES = (
    ("automation_rate", "Resolved without a human", "#2e7d32"),
    ("escalation_rate", "Escalation rate", "#c62828"),
    ("first_pass_quality", "First-pass quality", "#1565c0"),
)


def render_chart(digest: Digest) -> bytes:
    """Conversations as bars (left axis) and three rates as lines (right axis, 0–100%).
    A week with no conversations has no rates: the line has a gap there instead of a false zero."""
    weeks = [point.week.split("-")[1] for point in digest.history]
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    counts = figure.subplots()
    positions = list(range(len(weeks)))
    counts.bar(positions, [p.conversations for p in digest.history], color="#cfd8dc", label="Conversations")
    counts.set_ylabel("Conversations")
    counts.set_xticks(positions, weeks)
    counts.set_ylim(bottom=0)
    counts.yaxis.set_major_locator(MaxNLocator(integer=True))  # no "2.5 conversations"
    rates = counts.twinx()
    for attribute, label, colour in RATES:
        values = [getattr(point, attribute) for point in digest.history]
        rates.plot(
            positions,
            [float("nan") if value is None else value for value in values],
            marker="o",
            linewidth=2,
            color=colour,
            label=label,
        )
    rates.set_ylim(0, 1.05)
    rates.yaxis.set_major_formatter(PercentFormatter(1.0))
    rates.set_ylabel("Share of conversations / answers")
    scope = f" — {digest.org}" if digest.org else ""
    counts.set_title(f"Last {len(weeks)} weeks to {digest.week}{scope}")
    bar_handles, bar_labels = counts.get_legend_handles_labels()
    line_handles, line_labels = rates.get_legend_handles_labels()
    # one legend for both axes, over the bars' axis so the lines never hide it
    counts.legend(
        bar_handles + line_handles, bar_labels + line_labels, loc="upper left", fontsize="small", framealpha=0.9
    )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
