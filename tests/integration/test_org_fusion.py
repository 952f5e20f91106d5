"""Per-org fusion: an org's calibrated setting is what its searches use, and no other org's."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services import Services
from knowledge.fusion import Fusion, FusionConfig
from knowledge.ingest import IngestOptions
from knowledge.models import SearchMode
from tests.integration.helpers import write_doc

pytestmark = pytest.mark.integration

QUESTION = "the parcel came smashed, I want my money back"
LEXICAL_ONLY = FusionConfig(method=Fusion.CONVEX, dense_weight=0.0)


@pytest.fixture
async def twins(kb: Services, tmp_path: Path) -> Services:
    """Two orgs with the same three documents."""
    for org in ("globex", "initech"):
        write_doc(
            tmp_path,
            f"{org}/refunds.md",
            "# Damaged deliveries\n\nIf an item arrives damaged we refund the full price to your card.\n",
            org=org,
        )
        write_doc(
            tmp_path,
            f"{org}/kettle.md",
            "# Kettle care\n\nDescale the kettle every month; money spent on filters is money saved.\n",
            org=org,
        )
        write_doc(tmp_path, f"{org}/hours.md", "# Opening hours\n\nWe answer the phone from 9 to 5.\n", org=org)
    summary = await kb.ingestor.ingest([tmp_path], IngestOptions())
    assert len(summary.added) == 6
    return kb


async def _first(services: Services, org: str, mode: SearchMode = SearchMode.HYBRID) -> str:
    results = await services.searcher.search(QUESTION, org=org, mode=mode, limit=3, include_public=False)
    return results[0].doc_key.rsplit("/", 1)[-1]


async def test_an_orgs_own_fusion_is_used_for_it_and_not_for_another(twins: Services) -> None:
    searcher = twins.searcher
    # the two signals disagree on this question: meaning says refunds, the one shared word ("money") kettle
    assert await _first(twins, "globex", SearchMode.DENSE) == "refunds"
    assert await _first(twins, "globex", SearchMode.FTS) == "kettle"
    assert searcher.default_fusion.method is Fusion.DENSE_FIRST
    assert await _first(twins, "globex") == await _first(twins, "initech") == "refunds"

    await searcher.org_fusion.set("globex", LEXICAL_ONLY, questions=25, figures={"convex 0": {"mrr@10": 1.0}})
    assert await searcher.org_fusion.get("globex") == LEXICAL_ONLY
    assert await _first(twins, "globex") == "kettle"
    assert await _first(twins, "initech") == "refunds"  # initech keeps the default
    # the fusion is the org's only: its dense and full-text modes are what they were
    assert await _first(twins, "globex", SearchMode.DENSE) == "refunds"

    [stored] = await searcher.org_fusion.all()
    assert (stored.org, stored.fusion, stored.questions) == ("globex", LEXICAL_ONLY, 25)
    assert await searcher.org_fusion.clear("globex")
    assert not await searcher.org_fusion.clear("globex")
    assert await _first(twins, "globex") == "refunds"
