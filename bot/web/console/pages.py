"""Every console page set, in navigation order; bot/web/app.py mounts them. A new page module joins here."""

from __future__ import annotations

from bot.web.console import audit, autonomy, decisions, knowledge, overview, queue
from bot.web.pages import PageSet

CONSOLE_PAGES: tuple[PageSet, ...] = (
    overview.pages,
    decisions.pages,
    queue.pages,
    knowledge.pages,
    autonomy.pages,
    audit.pages,
)
