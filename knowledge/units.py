"""A passage cut into the smallest pieces that can answer a question: a table row with its header, a list item
with the sentence that introduces its list, a sentence. Pure text in, units out; nothing is reworded.

Ingestion embeds every unit (`unit_key`, `embedding_text`), so an answer scores them without embedding anything."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from knowledge.chunking import FENCE, split_sentences

_LIST_ITEM = re.compile(r"^(\s*)(?:[-*+•]|(\d{1,2})[.)])\s+(.*)$")
_TABLE_LINE = re.compile(r"^\s*\|.*\|\s*$")
_SEPARATOR_CELL = re.compile(r"^:?-{3,}:?$")
# a plain-text heading ("WHAT A RESET ERASES"): short, in capitals, no sentence punctuation at its end
_CAPS_HEADING = re.compile(r"^[A-Z0-9][A-Z0-9 ,&()/'’-]{2,60}$")
_EMPTY_CELLS = {"", "—", "–", "-", "n/a"}


class UnitKind(StrEnum):
    SENTENCE = "sentence"
    ITEM = "item"  # a list item; `step` is set for numbered lists
    ROW = "row"  # a table row; `facts` pairs each header with its cell


@dataclass(frozen=True)
class Unit:
    kind: UnitKind
    text: str  # as the customer reads it (light Markdown kept: **bold**, `code`, links)
    group: int  # which paragraph, list or table of the passage it belongs to
    position: int  # its place in that group
    context: str = ""  # what it is about beyond its own words: a table's header, a list's lead-in, a heading
    facts: tuple[tuple[str, str], ...] = ()
    step: int | None = None


@dataclass
class _Group:
    kind: str  # "paragraph", "list", "table"
    lines: list[str]
    heading: str


@lru_cache(maxsize=8192)
def units_of(passage: str) -> tuple[Unit, ...]:
    """Every unit of `passage`, in reading order (remembered: the same passages answer many questions)."""
    units: list[Unit] = []
    lead_in = ""
    for number, group in enumerate(_groups(passage)):
        if group.kind == "table":
            units += _rows(group, number)
        elif group.kind == "list":
            units += _items(group, number, lead_in=lead_in)
        else:
            sentences = _sentences(" ".join(line.strip() for line in group.lines))
            # a sentence ending in ":" introduces the list after it, and travels with its items too
            lead_in = sentences[-1] if sentences and sentences[-1].endswith(":") else ""
            units += [
                Unit(UnitKind.SENTENCE, sentence, number, position, context=group.heading)
                for position, sentence in enumerate(sentences)
            ]
            continue
        lead_in = ""
    return tuple(units)


def embedding_text(unit: Unit) -> str:
    """What is embedded for a unit: an item with its lead-in ("be complete" alone means nothing); a sentence
    without the rhetorical question before it ("Changed your mind? You can return …")."""
    if unit.kind is UnitKind.ITEM and unit.context:
        return f"{unit.context}: {unit.text}"
    _, mark, answer = unit.text.partition("? ")
    return answer if mark and answer else unit.text


def unit_key(text: str) -> bytes:
    """The stored vector's key: a hash of the embedded text, so a changed splitter never meets a stale vector."""
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def render_row(facts: tuple[tuple[str, str], ...]) -> str:
    """The row as one line, its first cell naming it: "Code E118 · Meaning: Time sync failed · What to try: …"."""
    shown = []
    for index, (label, value) in enumerate(facts):
        if not label:
            shown.append(value)
        elif index == 0 and " " not in label.strip("*"):
            shown.append(f"{label} {value}")
        else:
            shown.append(f"{label}: {value}")
    return " · ".join(shown)


def _groups(passage: str) -> list[_Group]:
    groups: list[_Group] = []
    heading, blank, in_fence = "", True, False
    lines = passage.splitlines()
    for number, raw in enumerate(lines):
        alone = blank and (number + 1 == len(lines) or not lines[number + 1].strip())
        if FENCE.match(raw):
            in_fence = not in_fence
            blank = True  # code is never quoted, and nothing continues across it
        elif in_fence:
            continue
        elif not raw.strip():
            blank = True
        elif (blank and _CAPS_HEADING.match(raw.strip())) or (alone and _title_line(raw.strip())):
            heading = raw.strip().title() if raw.strip().isupper() else raw.strip()
        else:
            _add_line(groups, raw.rstrip(), heading=heading, after_blank=blank)
            blank = False
    return groups


def _title_line(line: str) -> bool:
    """A short line without closing punctuation, alone in its paragraph: a plain-text document's title."""
    return len(line.split()) <= 10 and not re.search(r"[.!?:;…)\"'*|]$", line) and not _LIST_ITEM.match(line)


def _add_line(groups: list[_Group], line: str, *, heading: str, after_blank: bool) -> None:
    current = groups[-1] if groups else None
    kind = "table" if _TABLE_LINE.match(line) else "list" if _LIST_ITEM.match(line) else "paragraph"
    if (
        kind == "paragraph"
        and current is not None
        and current.kind == "list"
        and (not after_blank or line[:1].isspace())
    ):
        current.lines[-1] += " " + line.strip()  # an item's continuation line
    elif current is not None and current.kind == kind and (kind != "paragraph" or not after_blank):
        current.lines.append(line.strip() if kind == "table" else line)
    else:
        groups.append(_Group(kind, [line.strip() if kind == "table" else line], heading))


def _sentences(paragraph: str) -> list[str]:
    """Sentences, a question kept with the answer that follows it ("Checked out as a guest? Go to …")."""
    sentences: list[str] = []
    for sentence in split_sentences(paragraph):
        if sentences and sentences[-1].endswith("?"):
            sentences[-1] = f"{sentences[-1]} {sentence}"
        else:
            sentences.append(sentence)
    return sentences


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner)]


def _rows(group: _Group, number: int) -> list[Unit]:
    rows = [_cells(line) for line in group.lines]
    header: list[str] = []
    if len(rows) > 1 and all(_SEPARATOR_CELL.match(cell) for cell in rows[1] if cell):
        header, rows = rows[0], rows[2:]
    elif len(rows) > 1:  # tables from HTML have no separator: their first row is the header
        header, rows = rows[0], rows[1:]
    units = []
    for position, cells in enumerate(rows):
        labels = header + [""] * (len(cells) - len(header))
        facts = tuple(
            (label, cell)
            for label, cell in zip(labels, cells, strict=False)
            if cell.strip().lower() not in _EMPTY_CELLS
        )
        if facts:
            units.append(
                Unit(
                    UnitKind.ROW,
                    render_row(facts),
                    number,
                    position,
                    context=" · ".join(header) if header else group.heading,
                    facts=facts,
                )
            )
    return units


def _items(group: _Group, number: int, *, lead_in: str) -> list[Unit]:
    units = []
    for position, line in enumerate(group.lines):
        match = _LIST_ITEM.match(line)
        if match is None:
            continue
        text = " ".join(match.group(3).split())
        step = int(match.group(2)) if match.group(2) else None
        context = " ".join(part for part in (group.heading, lead_in) if part)
        units.append(Unit(UnitKind.ITEM, text, number, position, context=context, step=step))
    return units
