"""Ingestion against the embedded PostgreSQL+pgvector with the real embedder."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import pytest

from bot.services import Services
from knowledge.ingest import IngestOptions
from tests.integration.helpers import write_doc

pytestmark = pytest.mark.integration

RETURNS = """# Returns

## Return window
You can return any unused item within 30 days of delivery. The item must be in its original packaging.

## Refund timing
Refunds reach your card within 5 to 10 business days after we receive the parcel.
"""


async def _chunk_rows(services: Services, doc_key: str) -> list[tuple[int, str]]:
    async with services.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT c.id, c.body FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id "
            "WHERE d.doc_key = %s ORDER BY c.ordinal",
            (doc_key,),
        )
        return [(row[0], row[1]) for row in await cur.fetchall()]


async def test_ingest_is_idempotent_and_replaces_changed_documents(kb: Services, tmp_path: Path) -> None:
    write_doc(tmp_path, "returns.md", RETURNS)
    write_doc(tmp_path, "guides/shipping.md", "# Shipping\n\nStandard shipping takes 3 to 5 business days.\n")

    first = await kb.ingestor.ingest([tmp_path], IngestOptions())
    assert sorted(first.added) == ["guides/shipping", "returns"]
    assert first.skipped == [] and first.failed == []
    before = await _chunk_rows(kb, "returns")
    assert [body for _, body in before] == [
        "You can return any unused item within 30 days of delivery. The item must be in its original packaging.",
        "Refunds reach your card within 5 to 10 business days after we receive the parcel.",
    ]

    again = await kb.ingestor.ingest([tmp_path], IngestOptions())
    assert sorted(again.unchanged) == ["guides/shipping", "returns"]
    assert again.added == again.updated == [] and again.chunks_written == 0
    assert await _chunk_rows(kb, "returns") == before  # same chunk ids: nothing rewritten

    write_doc(tmp_path, "returns.md", RETURNS.replace("30 days", "45 days"))
    changed = await kb.ingestor.ingest([tmp_path], IngestOptions())
    assert changed.updated == ["returns"] and changed.unchanged == ["guides/shipping"]
    after = await _chunk_rows(kb, "returns")
    assert "45 days" in after[0][1]
    assert not {chunk_id for chunk_id, _ in before} & {chunk_id for chunk_id, _ in after}


async def test_metadata_only_change_updates_without_reembedding(kb: Services, tmp_path: Path) -> None:
    write_doc(tmp_path, "returns.md", RETURNS, owner="old@acme.example")
    await kb.ingestor.ingest([tmp_path], IngestOptions())
    before = await _chunk_rows(kb, "returns")

    write_doc(tmp_path, "returns.md", RETURNS, owner="new@acme.example")
    summary = await kb.ingestor.ingest([tmp_path], IngestOptions())

    assert summary.updated == ["returns"] and summary.chunks_written == 0
    assert await _chunk_rows(kb, "returns") == before
    [record] = await kb.store.documents()
    assert record.owner == "new@acme.example"


async def test_prune_removes_documents_whose_files_are_gone(kb: Services, tmp_path: Path) -> None:
    keep = write_doc(tmp_path, "keep.md", "# Keep\n\nThis stays.\n")
    gone = write_doc(tmp_path, "gone.md", "# Gone\n\nThis file will be deleted.\n")
    await kb.ingestor.ingest([tmp_path], IngestOptions())
    gone.unlink()

    without_prune = await kb.ingestor.ingest([tmp_path], IngestOptions())
    assert without_prune.pruned == []
    assert {r.doc_key for r in await kb.store.documents()} == {"keep", "gone"}

    pruned = await kb.ingestor.ingest([tmp_path], IngestOptions(prune=True))
    assert pruned.pruned == ["gone"]
    assert [r.doc_key for r in await kb.store.documents()] == ["keep"]
    assert keep.exists()


async def test_bad_input_is_named_and_the_rest_of_the_batch_is_ingested(kb: Services, tmp_path: Path) -> None:
    good = write_doc(tmp_path, "good.md", "# Good\n\nA perfectly fine article about invoices.\n")
    await kb.ingestor.ingest([tmp_path], IngestOptions())
    # an already stored document whose new version is broken must keep its stored version
    good.write_text("---\ntitle: [unclosed\n---\nbody\n", encoding="utf-8")
    write_doc(tmp_path, "fine.md", "# Fine\n\nAnother good article about passwords.\n")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02garbage" * 10)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (tmp_path / "empty.md").write_text("   \n", encoding="utf-8")
    big = tmp_path / "huge.md"
    with big.open("wb") as handle:
        handle.truncate(20 * 1024 * 1024)
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n")
    missing = tmp_path / "does-not-exist"

    summary = await kb.ingestor.ingest([tmp_path, missing], IngestOptions())

    reasons = {Path(path).name: reason for path, reason in summary.skipped}
    assert "malformed front matter" in reasons["good.md"]
    assert "binary" in reasons["binary.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "empty" in reasons["empty.md"]
    assert "MB" in reasons["huge.md"] and "limit" in reasons["huge.md"]
    assert "unsupported" in reasons["image.png"]
    assert reasons["does-not-exist"] == "no such file or directory"
    assert summary.added == ["fine"]
    stored = {r.doc_key: r for r in await kb.store.documents()}
    assert set(stored) == {"good", "fine"}
    assert "invoices" in (await _chunk_rows(kb, "good"))[0][1]


async def test_front_matter_org_owner_and_default_review_date(kb: Services, tmp_path: Path) -> None:
    path = write_doc(
        tmp_path, "private.md", "# Globex SLA\n\nResponse within one hour.\n", org="Globex", owner=None, review_by=None
    )
    os.utime(path, (1_700_000_000, 1_700_000_000))  # 2023-11-14
    await kb.ingestor.ingest([tmp_path], IngestOptions(owner="fallback@acme.example", review_every=timedelta(days=90)))
    [record] = await kb.store.documents()
    assert record.org == "globex"
    assert record.owner == "fallback@acme.example"
    assert record.title == "Globex SLA"
    assert str(record.review_by) == "2024-02-12"


async def test_replacing_a_document_is_atomic_for_concurrent_readers(kb: Services, tmp_path: Path) -> None:
    def version(tag: str) -> str:
        return "# Doc\n\n" + "\n\n".join(f"## Part {i}\n\nVersion {tag} paragraph {i}." for i in range(8))

    write_doc(tmp_path, "doc.md", version("A"))
    await kb.ingestor.ingest([tmp_path], IngestOptions())
    seen: list[set[str]] = []
    stop = asyncio.Event()

    async def reader() -> None:
        while not stop.is_set():
            rows = await _chunk_rows(kb, "doc")
            seen.append({body.split()[1] for _, body in rows})
            await asyncio.sleep(0)

    task = asyncio.create_task(reader())
    for tag in ("B", "C", "D", "E"):
        write_doc(tmp_path, "doc.md", version(tag))
        await kb.ingestor.ingest([tmp_path], IngestOptions())
    stop.set()
    await task
    assert len(seen) > 1
    assert all(len(versions) == 1 for versions in seen), seen
    assert seen[-1] == {"E"} or (await _chunk_rows(kb, "doc"))[0][1].startswith("Version E")
