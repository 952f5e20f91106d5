"""Unit vectors are stored at ingestion, so an answer embeds nothing but the question; a unit without one is
embedded in the turn and stored; a new embedder leaves none of the old model's behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.services import Services
from handlers.answering import grounded_answer
from handlers.unit_scoring import UnitScorer
from knowledge.embedder import Embedder, Vectors
from knowledge.ingest import IngestOptions
from knowledge.units import embedding_text, unit_key, units_of

pytestmark = pytest.mark.integration
CODES = (
    "# Status codes\n\n| Code | Meaning | Fix |\n|---|---|---|\n"
    "| QX-77 | Firmware checksum failed | Re-download the update |\n| QX-78 | Battery low | Charge the device |\n\n"
    "Most codes clear themselves. Contact support when one keeps coming back.\n"
)


class Counting:
    """The session's embedder, counting what it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts: list[str] = []
        self.name, self.dimension = inner.name, inner.dimension

    async def embed(self, texts: list[str]) -> Vectors:
        self.texts += texts
        return await self.inner.embed(texts)


async def stored(kb: Services) -> dict[bytes, np.ndarray]:
    async with kb.pool.connection() as conn:
        rows = await (await conn.execute("SELECT id FROM kb_chunks")).fetchall()
    vectors = await kb.store.unit_vectors([row[0] for row in rows])
    return {key: vector for by_key in vectors.values() for key, vector in by_key.items()}


async def test_ingestion_stores_a_vector_for_every_unit(kb: Services, tmp_path: Path) -> None:
    (tmp_path / "codes.md").write_text(CODES)
    await kb.ingestor.ingest([tmp_path], IngestOptions())
    found = await kb.searcher.search("What does QX-77 mean?", org=None, limit=5)
    expected = {unit_key(embedding_text(unit)) for result in found for unit in units_of(result.text)}
    vectors = await stored(kb)
    assert set(vectors) == expected and len(expected) == 4  # two rows, two sentences
    row = next(unit for unit in units_of(found[0].text) if unit.facts)
    [direct] = await kb.embedder.embed([embedding_text(row)])
    assert np.allclose(vectors[unit_key(embedding_text(row))], direct, atol=1e-5)

    counting = Counting(kb.embedder)
    draft = await grounded_answer("What does QX-77 mean?", found, scorer=UnitScorer(counting, kb.store))
    assert draft.text.startswith("Code QX-77 · Meaning: Firmware checksum failed")
    assert counting.texts == ["What does QX-77 mean?"]  # the question only: every unit's vector was stored

    # a changed document replaces its units' vectors with the chunks (no vector of the old text remains)
    (tmp_path / "codes.md").write_text(CODES.replace("Battery low", "Battery below 10%"))
    await kb.ingestor.ingest([tmp_path], IngestOptions())
    after = await stored(kb)
    assert len(after) == 4 and len(set(after) & set(vectors)) == 3  # the changed row's vector is new


async def test_a_unit_without_a_vector_is_embedded_in_the_turn_and_stored(kb: Services, tmp_path: Path) -> None:
    (tmp_path / "codes.md").write_text(CODES)
    await kb.ingestor.ingest([tmp_path], IngestOptions())
    async with kb.pool.connection() as conn:
        await conn.execute("DELETE FROM kb_unit_vectors")  # as a base ingested before units were stored
    found = await kb.searcher.search("What does QX-78 mean?", org=None, limit=5)
    counting = Counting(kb.embedder)
    draft = await grounded_answer("What does QX-78 mean?", found, scorer=UnitScorer(counting, kb.store))
    assert draft.text.startswith("Code QX-78 · Meaning: Battery low")
    assert len(counting.texts) == 1 + 4 and len(await stored(kb)) == 4  # the question and four units, then kept

    again = Counting(kb.embedder)
    await grounded_answer("What does QX-78 mean?", found, scorer=UnitScorer(again, kb.store))
    assert again.texts == ["What does QX-78 mean?"]  # a new process reads them back


async def test_a_new_embedding_space_drops_the_old_models_unit_vectors(kb: Services, tmp_path: Path) -> None:
    (tmp_path / "codes.md").write_text(CODES)
    await kb.ingestor.ingest([tmp_path], IngestOptions())
    assert await stored(kb)
    await kb.store.reset_embedding_space(kb.embedder.name, kb.embedder.dimension)
    assert await stored(kb) == {}
    async with kb.pool.connection() as conn:  # chunks without vectors would be skipped as unchanged by a re-ingest
        await conn.execute("TRUNCATE kb_documents, kb_chunks RESTART IDENTITY CASCADE")
