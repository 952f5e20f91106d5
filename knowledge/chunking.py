"""Heading- and paragraph-aware chunking that never cuts a sentence in half."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from knowledge.models import Chunk

_ATX_HEADING = re.compile(r"^(#{1,6})\s+(.+?)(?:\s+#+)?\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
# A sentence ends after . ! ? or … (optionally closed by a quote or bracket) before a capital.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}")
# a plain-text heading: one short line in capitals ("HOW TO RESET", "WHEN TO RESET (AND WHEN NOT TO)")
_CAPITALS_HEADING = re.compile(r"^(?=[^a-z]*[A-Z]{2})[^a-z.!?:;]{2,80}$")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "no.", "mr.", "mrs.", "dr.", "inc.", "st.")


@dataclass
class _Section:
    path: tuple[str, ...]
    blocks: list[str]


def extract_title(text: str) -> str | None:
    """The first level-one heading, if the document has one."""
    for heading_level, heading, _ in _headings(text):
        if heading_level == 1:
            return heading
    return None


def chunk_document(text: str, *, markup: str, title: str, max_chars: int) -> list[Chunk]:
    sections = _sections(text, title=title) if markup == "markdown" else _text_sections(text)
    chunks: list[Chunk] = []
    for section in sections:
        for body in _pack(section.blocks, max_chars=max_chars):
            chunks.append(Chunk(ordinal=len(chunks), heading_path=section.path, text=body))
    return chunks


def split_sentences(paragraph: str) -> list[str]:
    pieces = _SENTENCE_END.split(paragraph.strip())
    sentences: list[str] = []
    for piece in pieces:
        if sentences and sentences[-1].lower().rsplit(None, 1)[-1] in _ABBREVIATIONS:
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return [sentence for sentence in sentences if sentence]


def _headings(text: str) -> Iterator[tuple[int, str, int]]:
    in_fence = False
    for number, line in enumerate(text.splitlines()):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _ATX_HEADING.match(line)
        if match:
            yield len(match.group(1)), match.group(2).strip(), number


def _sections(text: str, *, title: str) -> list[_Section]:
    lines = text.splitlines()
    sections: list[_Section] = []
    stack: list[tuple[int, str]] = []
    start = 0
    for heading_level, heading, number in _headings(text):
        _add_section(sections, stack, lines[start:number], title=title)
        stack = [(lvl, name) for lvl, name in stack if lvl < heading_level] + [(heading_level, heading)]
        start = number + 1
    _add_section(sections, stack, lines[start:], title=title)
    return sections


def _text_sections(text: str) -> list[_Section]:
    """Plain text (and PDF text) marks its sections with a line in capitals: each starts a section named by it,
    so a step list is found under "How to reset" as it would be in Markdown."""
    sections = [_Section((), [])]
    for block in _paragraphs(text):
        if "\n" not in block and _CAPITALS_HEADING.match(block):
            sections.append(_Section((block.capitalize(),), []))
        else:
            sections[-1].blocks.append(block)
    return [section for section in sections if section.blocks]


def _add_section(sections: list[_Section], stack: list[tuple[int, str]], lines: list[str], *, title: str) -> None:
    blocks = _paragraphs("\n".join(lines))
    if not blocks:
        return
    # The document title is already on every result; repeating it as a heading adds nothing.
    path = tuple(name for lvl, name in stack if not (lvl == 1 and name == title))
    sections.append(_Section(path, blocks))


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks; fenced code stays one block even with blank lines inside."""
    blocks: list[str] = []
    current: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        if not line.strip() and not in_fence:
            if current:
                blocks.append("\n".join(current).strip())
                current = []
            continue
        current.append(line.rstrip())
    if current:
        blocks.append("\n".join(current).strip())
    return [block for block in blocks if block]


def _pack(blocks: list[str], *, max_chars: int) -> Iterator[str]:
    """Greedily join whole paragraphs, then whole sentences or lines, up to `max_chars`."""
    current, previous_whole = "", False
    for unit, whole in _units(blocks, max_chars=max_chars):
        # paragraphs stay separated by a blank line; pieces of one paragraph by a space or newline
        joiner = "\n\n" if whole or previous_whole else ("\n" if unit.startswith(("|", "- ", "* ")) else " ")
        candidate = f"{current}{joiner}{unit}" if current else unit
        if current and len(candidate) > max_chars:
            yield current
            current = unit
        else:
            current = candidate
        previous_whole = whole
    if current:
        yield current


def _units(blocks: list[str], *, max_chars: int) -> Iterator[tuple[str, bool]]:
    """(text, is whole paragraph). Paragraphs that fit stay whole; a longer table or list is cut
    between rows (a table keeps its header on every piece); longer prose between sentences."""
    for block in blocks:
        lines = block.splitlines()
        if len(block) <= max_chars or FENCE.match(block):
            yield block, True
        elif len(lines) > 1 and all(
            line.lstrip().startswith(("|", "- ", "* ", "+ ")) or line[:1].isdigit() for line in lines
        ):
            yield from ((piece, True) for piece in _row_groups(lines, max_chars=max_chars))
        else:
            for sentence in split_sentences(" ".join(line.strip() for line in lines)):
                yield from ((piece, False) for piece in _hard_wrap(sentence, max_chars=max_chars))


def _row_groups(lines: list[str], *, max_chars: int) -> Iterator[str]:
    header: list[str] = []
    if len(lines) > 2 and lines[0].lstrip().startswith("|") and _TABLE_SEPARATOR.match(lines[1]):
        header, lines = lines[:2], lines[2:]
    group: list[str] = []
    for line in lines:
        if group and len("\n".join([*header, *group, line])) > max_chars:
            yield "\n".join([*header, *group])
            group = []
        group.append(line)
    if group:
        yield "\n".join([*header, *group])


def _hard_wrap(sentence: str, *, max_chars: int) -> Iterator[str]:
    # A "sentence" several times the chunk size is not prose (a log dump, a run-on list):
    # only then do we cut, and only at whitespace.
    if len(sentence) <= max_chars * 4:
        yield sentence
        return
    words, current = sentence.split(), ""
    for word in words:
        if current and len(current) + len(word) + 1 > max_chars:
            yield current
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        yield current
