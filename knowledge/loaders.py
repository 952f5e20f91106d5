"""Turn files into text plus metadata: Markdown, plain text, HTML and PDF."""

from __future__ import annotations

import io
from pathlib import Path

from bs4 import BeautifulSoup, Comment, Doctype, Tag
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from knowledge.errors import UnreadableDocument
from knowledge.frontmatter import meta_from_mapping, split_front_matter
from knowledge.models import DocumentMeta, ParsedDocument

MARKDOWN_SUFFIXES = {".md", ".markdown"}
TEXT_SUFFIXES = {".txt", ".text"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES


def parse_file(path: Path, *, doc_key: str, max_bytes: int) -> ParsedDocument:
    """Read one file. Raises `UnreadableDocument` with a reason a person can act on."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableDocument(f"unsupported file type '{suffix or path.name}'")
    size = path.stat().st_size
    if size > max_bytes:
        raise UnreadableDocument(f"file is {_size(size)}, over the {_size(max_bytes)} limit (MAX_FILE_BYTES)")
    data = path.read_bytes()
    if suffix in PDF_SUFFIXES:
        return _finish(doc_key, path, _pdf_text(data), DocumentMeta(), "text")
    text = _decode(data)
    if suffix in HTML_SUFFIXES:
        body, meta = _html(text)
        return _finish(doc_key, path, body, meta, "markdown")
    raw_meta, body = split_front_matter(text)
    markup = "markdown" if suffix in MARKDOWN_SUFFIXES else "text"
    return _finish(doc_key, path, body, meta_from_mapping(raw_meta), markup)


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count:,} bytes"


def _finish(doc_key: str, path: Path, text: str, meta: DocumentMeta, markup: str) -> ParsedDocument:
    if not text.strip():
        raise UnreadableDocument("document is empty")
    return ParsedDocument(doc_key=doc_key, path=str(path), text=text, meta=meta, markup=markup)


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise UnreadableDocument("looks like a binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableDocument(f"not UTF-8 text (invalid byte at offset {exc.start}); convert it to UTF-8") from None


def _pdf_text(data: bytes) -> str:
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise UnreadableDocument(f"unreadable PDF: {exc}") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise UnreadableDocument("PDF has no extractable text (scanned images need OCR first)")
    return text


_HEADING_TAGS = {"h1": "#", "h2": "##", "h3": "###", "h4": "####", "h5": "#####", "h6": "######"}
# Elements whose text forms its own paragraph. Text sitting directly in a <div> or <body> is
# kept as a paragraph of that container, so no visible sentence is lost.
_BLOCKS = {
    *_HEADING_TAGS,
    "p",
    "li",
    "pre",
    "tr",
    "blockquote",
    "dt",
    "dd",
    "div",
    "section",
    "article",
    "main",
    "body",
    "aside",
    "figcaption",
    "caption",
    "table",
    "ul",
    "ol",
    "dl",
    "form",
    "html",
    "[document]",
}
_NOISE = ["script", "style", "nav", "header", "footer", "noscript", "template"]


def _html(text: str) -> tuple[str, DocumentMeta]:
    """Render HTML as Markdown-ish text so the same heading-aware chunker applies."""
    soup = BeautifulSoup(text, "html.parser")
    metas: dict[str, object] = {}
    for tag in soup.find_all("meta"):
        name, content = tag.get("name"), tag.get("content")
        if isinstance(name, str) and isinstance(content, str):
            metas[name.lower()] = content
    if soup.title and soup.title.string and "title" not in metas:
        metas["title"] = soup.title.string.strip()
    for noise in soup([*_NOISE, "title", "head"]):
        noise.decompose()
    blocks: list[tuple[Tag, list[str]]] = []
    for string in soup.find_all(string=True):
        if isinstance(string, Comment | Doctype):
            continue
        block = next(parent for parent in string.parents if parent.name in _BLOCKS)
        if blocks and blocks[-1][0] is block:
            blocks[-1][1].append(str(string))
        else:
            blocks.append((block, [str(string)]))
    rendered = [_render(block, "".join(parts)) for block, parts in blocks]
    return "\n\n".join(part for part in rendered if part), meta_from_mapping(metas)


def _render(block: Tag, raw: str) -> str:
    if block.name == "pre":
        # fenced, so a line starting with '#' inside code never becomes a heading
        return f"```\n{raw.strip(chr(10))}\n```" if raw.strip() else ""
    content = " ".join(raw.split())
    if not content:
        return ""
    if block.name in _HEADING_TAGS:
        return f"{_HEADING_TAGS[block.name]} {content}"
    if block.name == "li" or (block.name in {"p", "div"} and block.find_parent("li") is not None):
        return f"- {content}"
    if block.name == "tr":
        cells = [" ".join(cell.get_text(" ").split()) for cell in block.find_all(["td", "th"])]
        return "| " + " | ".join(cells) + " |"
    return content
