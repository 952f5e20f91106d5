"""Turning files into text and metadata: Markdown, text, HTML, PDF and the ways they fail."""

from __future__ import annotations

import io
import logging
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from knowledge.chunking import chunk_document
from knowledge.errors import UnreadableDocument
from knowledge.loaders import parse_file
from knowledge.models import DocumentMeta, ParsedDocument

LIMIT = 1_000_000


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def _parse(path: Path, *, max_bytes: int = LIMIT) -> ParsedDocument:
    return parse_file(path, doc_key=f"kb/{path.name}", max_bytes=max_bytes)


def _reason(path: Path, *, max_bytes: int = LIMIT) -> str:
    with pytest.raises(UnreadableDocument) as caught:
        _parse(path, max_bytes=max_bytes)
    return str(caught.value)


# --- Markdown and text ----------------------------------------------------------------------------------


def test_markdown_with_front_matter(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "refunds.md",
        "---\ntitle: Refunds\nowner: alice\norg: ACME\nreview_by: 2030-01-31\ntags: billing, money\n---\n"
        "# Refunds\n\nRefunds take five days.\n",
    )
    doc = _parse(path)
    assert doc == ParsedDocument(
        doc_key="kb/refunds.md",
        path=str(path),
        text="# Refunds\n\nRefunds take five days.\n",
        meta=DocumentMeta(
            title="Refunds", owner="alice", org="acme", review_by=date(2030, 1, 31), tags=("billing", "money")
        ),
        markup="markdown",
    )


def test_upper_case_markdown_suffix_and_utf8_bom(tmp_path: Path) -> None:
    path = _write(tmp_path, "NOTES.MARKDOWN", "\ufeff---\ntitle: Café notes\n---\nCrème brûlée.\n".encode())
    doc = _parse(path)
    assert doc.meta.title == "Café notes"
    assert doc.text == "Crème brûlée.\n"
    assert doc.markup == "markdown"


def test_plain_text_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "faq.txt", "# not a heading in text\n\nOpening hours are 9 to 5.\n")
    doc = _parse(path)
    assert doc.markup == "text"
    assert doc.text == "# not a heading in text\n\nOpening hours are 9 to 5.\n"
    assert doc.meta == DocumentMeta()


def test_text_file_front_matter_is_read_too(tmp_path: Path) -> None:
    doc = _parse(_write(tmp_path, "a.text", "---\nowner: bob\n---\nHello.\n"))
    assert (doc.meta.owner, doc.text, doc.markup) == ("bob", "Hello.\n", "text")


def test_bad_front_matter_in_file_is_unreadable(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.md", "---\ntitle: ok\nreview_by: someday\n---\nBody\n")
    assert "'review_by' is not a date" in _reason(path)


# --- HTML -----------------------------------------------------------------------------------------------

HTML = """<!doctype html>
<html><head>
<title> Refund Guide </title>
<meta name="Owner" content="alice">
<meta name="tags" content="Billing, Refunds">
<meta name="review_by" content="2030-01-02">
<meta name="viewport" content="width=device-width">
<script>var leak = "SCRIPT_TEXT";</script>
<style>.x { color: red }</style>
</head>
<body>
<nav>Home | About</nav>
<header>Site banner</header>
<h1>Refunds</h1>
<p>Refunds take <b>five</b>
   days.</p>
<h2>Exceptions</h2>
<ul><li><p>Gift cards</p></li><li>Sale items</li></ul>
<h3>Contact</h3>
<table><tr><td>Email</td><td>help@example.com</td></tr></table>
<noscript>Enable JS</noscript>
<footer>Copyright</footer>
<script>console.log("MORE_SCRIPT")</script>
</body></html>
"""


def test_html_meta_tags_and_title(tmp_path: Path) -> None:
    doc = _parse(_write(tmp_path, "guide.html", HTML))
    assert doc.markup == "markdown"
    assert doc.meta == DocumentMeta(
        title="Refund Guide", owner="alice", review_by=date(2030, 1, 2), tags=("billing", "refunds")
    )


def test_html_body_becomes_markdown_blocks(tmp_path: Path) -> None:
    doc = _parse(_write(tmp_path, "guide.htm", HTML))
    assert doc.text == (
        "# Refunds\n\n"
        "Refunds take five days.\n\n"
        "## Exceptions\n\n"
        "- Gift cards\n\n"
        "- Sale items\n\n"
        "### Contact\n\n"
        "| Email | help@example.com |"
    )


def test_html_drops_scripts_styles_and_chrome(tmp_path: Path) -> None:
    text = _parse(_write(tmp_path, "guide.html", HTML)).text
    for noise in ("SCRIPT_TEXT", "MORE_SCRIPT", "color: red", "Home | About", "Site banner", "Enable JS", "Copyright"):
        assert noise not in text


def test_html_nested_paragraph_in_list_item_is_not_duplicated(tmp_path: Path) -> None:
    text = _parse(_write(tmp_path, "guide.html", HTML)).text
    assert text.count("Gift cards") == 1


def test_html_headings_feed_the_chunker(tmp_path: Path) -> None:
    doc = _parse(_write(tmp_path, "guide.html", HTML))
    chunks = chunk_document(doc.text, markup=doc.markup, title="Refunds", max_chars=500)
    assert [(c.heading_path, c.text) for c in chunks] == [
        ((), "Refunds take five days."),
        (("Exceptions",), "- Gift cards\n\n- Sale items"),
        (("Exceptions", "Contact"), "| Email | help@example.com |"),
    ]


def test_html_meta_title_wins_over_title_tag(tmp_path: Path) -> None:
    html = '<html><head><title>Tag title</title><meta name="TITLE" content="Meta title"></head><p>x</p></html>'
    assert _parse(_write(tmp_path, "t.html", html)).meta.title == "Meta title"


def test_html_with_only_scripts_is_empty(tmp_path: Path) -> None:
    path = _write(tmp_path, "s.html", "<html><head><title>T</title><script>x()</script></head><body></body></html>")
    assert _reason(path) == "document is empty"


def test_html_text_outside_block_tags_is_kept(tmp_path: Path) -> None:
    html = "<html><body><h1>Refunds</h1><div>Refunds take five days.</div></body></html>"
    assert "Refunds take five days." in _parse(_write(tmp_path, "div.html", html)).text


def test_html_pre_block_starting_with_hash_is_not_a_heading(tmp_path: Path) -> None:
    html = "<html><body><h2>Install</h2><pre># install the tool\npip install tool</pre></body></html>"
    doc = _parse(_write(tmp_path, "pre.html", html))
    chunks = chunk_document(doc.text, markup=doc.markup, title="T", max_chars=500)
    assert any("pip install tool" in c.text for c in chunks)
    assert all(c.heading_path == ("Install",) for c in chunks)


# --- PDF ------------------------------------------------------------------------------------------------


def _pdf(content: bytes) -> bytes:
    """A minimal, valid one-page PDF with a Helvetica font and a correct xref table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)


def test_handmade_pdf_is_structurally_valid() -> None:
    data = _pdf(b"BT /F1 12 Tf 72 720 Td (Hello refund policy) Tj ET")
    # strict mode refuses a broken xref instead of repairing it
    reader = PdfReader(io.BytesIO(data), strict=True)
    assert len(reader.pages) == 1
    start = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert data[start:].startswith(b"xref\n")


def test_pdf_text_is_extracted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path, "policy.PDF", _pdf(b"BT /F1 12 Tf 72 720 Td (Hello refund policy) Tj ET"))
    with caplog.at_level(logging.WARNING):
        doc = _parse(path)
    assert doc.text == "Hello refund policy"
    assert doc.markup == "text"
    assert doc.meta == DocumentMeta()
    assert not caplog.records, "pypdf had to repair the handmade PDF"


def test_pdf_without_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "scan.pdf", _pdf(b"0 0 m 10 10 l S"))
    assert "no extractable text" in _reason(path)


@pytest.mark.parametrize("data", [b"this is not a pdf at all \x01\x02", b"", b"%PDF-1.4\ngarbage"])
def test_garbage_with_pdf_suffix(tmp_path: Path, data: bytes) -> None:
    assert "PDF" in _reason(_write(tmp_path, "fake.pdf", data))


# --- failures -------------------------------------------------------------------------------------------


def test_binary_file_is_refused(tmp_path: Path) -> None:
    reason = _reason(_write(tmp_path, "blob.txt", b"looks like text\x00\x01\x02 but is not"))
    assert "binary" in reason
    assert "NUL" in reason


def test_non_utf8_text_is_refused_with_offset(tmp_path: Path) -> None:
    reason = _reason(_write(tmp_path, "menu.md", b"caf\xe9"))
    assert "UTF-8" in reason
    assert "offset 3" in reason


@pytest.mark.parametrize("data", [b"", b"   \n\t\n  ", b"---\ntitle: Only front matter\n---\n\n"])
def test_empty_documents(tmp_path: Path, data: bytes) -> None:
    assert _reason(_write(tmp_path, "empty.md", data)) == "document is empty"


def test_file_over_max_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.txt", b"a" * 2_500_000)
    reason = _reason(path, max_bytes=2_000_000)
    assert "limit" in reason
    assert "2.5 MB" in reason
    assert "2.0 MB" in reason


def test_file_exactly_at_max_bytes_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, "edge.txt", b"x" * 1_000)
    assert _parse(path, max_bytes=1_000).text == "x" * 1_000


@pytest.mark.parametrize(("name", "shown"), [("logo.png", "'.png'"), ("README", "'README'"), ("a.md.bak", "'.bak'")])
def test_unsupported_suffix(tmp_path: Path, name: str, shown: str) -> None:
    reason = _reason(_write(tmp_path, name, b"\x89PNG\r\n"))
    assert reason == f"unsupported file type {shown}"
