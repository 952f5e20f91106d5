"""Answers carry light Markdown (**bold**, *italic*, `code`, [links](url), "- " and "1. " lists): each channel gets
it in its own dialect, and each has a length it cuts an answer to, at a sentence, never mid-word."""

from __future__ import annotations

import re
from typing import Protocol

from markupsafe import Markup, escape

from handlers.models import AnswerPart

_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])[*_](?=\S)([^*_\n]+?)(?<=\S)[*_](?![\w*])")
_CODE = re.compile(r"`([^`\n]+)`")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
MIN_CUT = 80  # a cut part shorter than this says too little to be worth showing
_BOLD_MARK = "\x00"  # stands in for a bold span while single-star italics are converted


class HasParts(Protocol):
    @property
    def parts(self) -> tuple[AnswerPart, ...]: ...


def markers(part: AnswerPart) -> str:
    return "".join(f" [{number}]" for number in part.sources)


def to_slack(text: str) -> str:
    """Slack mrkdwn: *bold*, _italic_, <url|text>, • bullets; &, < and > escaped first."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    linked = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", escaped)
    bolded = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(1)}{_BOLD_MARK}", linked)
    italic = _ITALIC.sub(lambda m: f"_{m.group(1)}_", bolded)
    headed = _HEADING.sub(lambda m: f"{_BOLD_MARK}{m.group(1)}{_BOLD_MARK}", italic)
    return _BULLET.sub(lambda m: f"{m.group(1)}• ", headed).replace(_BOLD_MARK, "*")


def to_teams(text: str) -> str:
    """Adaptive Card TextBlock Markdown: **bold**, _italic_, links and lists work; code spans and headings do not."""
    coded = _CODE.sub(lambda m: m.group(1), text)
    bolded = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(1)}{_BOLD_MARK}", coded)
    italic = _ITALIC.sub(lambda m: f"_{m.group(1)}_", bolded)
    headed = _HEADING.sub(lambda m: f"{_BOLD_MARK}{m.group(1)}{_BOLD_MARK}", italic)
    return headed.replace(_BOLD_MARK, "**")


def to_html(text: str) -> Markup:
    """The web playground: everything escaped first, then the light Markdown as HTML; "- " lines as a list."""
    escaped = str(escape(text))
    coded = _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", escaped)
    linked = _LINK.sub(lambda m: f'<a href="{m.group(2)}" rel="noopener noreferrer">{m.group(1)}</a>', coded)
    bolded = _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", linked)
    italic = _ITALIC.sub(lambda m: f"<em>{m.group(1)}</em>", bolded)
    headed = _HEADING.sub(lambda m: f"<strong>{m.group(1)}</strong>", italic)
    out: list[str] = []
    in_list = False
    for line in headed.split("\n"):
        item = _BULLET.match(line)
        if item and not in_list:
            out.append("<ul>")
        elif not item and in_list:
            out.append("</ul>")
        in_list = item is not None
        out.append(f"<li>{line[item.end() :]}</li>" if item else line + "<br>")
    if in_list:
        out.append("</ul>")
    return Markup("".join(out).removesuffix("<br>"))  # noqa: S704 - built from escaped text only


def to_plain(text: str) -> str:
    """A terminal: no markup at all; a link keeps its address in brackets."""
    linked = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    coded = _CODE.sub(lambda m: m.group(1), linked)
    bolded = _BOLD.sub(lambda m: m.group(1), coded)
    italic = _ITALIC.sub(lambda m: m.group(1), bolded)
    return _HEADING.sub(lambda m: m.group(1), italic)


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at the last sentence (or word) that fits, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    room = text[: max(0, limit - 2)]
    ends = [found.start() for found in _SENTENCE_END.finditer(room)]
    cut = ends[-1] if ends and ends[-1] > limit // 2 else room.rfind(" ")
    return room[: cut if cut > 0 else len(room)].rstrip() + " …"


def fitted_parts(reply: HasParts, limit: int) -> tuple[AnswerPart, ...]:
    """The answer's parts that fit in `limit` characters, the direct answer first. A part that does not fit whole
    is cut at a sentence; the closing lines without sources ("More in [1].", a staleness warning) are kept."""
    closing_at = len(reply.parts)
    while closing_at > 0 and not reply.parts[closing_at - 1].sources and not reply.parts[closing_at - 1].facts:
        closing_at -= 1
    body, closing = reply.parts[:closing_at], reply.parts[closing_at:]
    room = limit - sum(len(part.text) + 2 for part in closing)
    kept: list[AnswerPart] = []
    for part in body:
        size = len(part.text) + len(markers(part)) + 2
        if size <= room:
            kept.append(part)
            room -= size
            continue
        if not kept or (not part.facts and room > MIN_CUT):
            kept.append(AnswerPart(shorten(part.text, max(room - len(markers(part)), MIN_CUT)), (), part.sources))
        break
    return (*kept, *closing)
