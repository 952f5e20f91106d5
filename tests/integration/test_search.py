"""Hybrid search: tenants, freshness, lexical-only and semantic-only matches, embedder identity."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.services import Services
from knowledge.errors import EmbedderMismatch
from knowledge.ingest import IngestOptions
from knowledge.models import Freshness, SearchMode
from knowledge.search import HybridSearcher, SearchConfig
from tests.integration.helpers import write_doc

pytestmark = pytest.mark.integration

ALL_MODES = list(SearchMode)


@pytest.fixture
async def tenants(kb: Services, tmp_path: Path) -> Services:
    write_doc(
        tmp_path, "public/refunds.md", "# Refund policy\n\nRefunds are issued to the original card within 10 days.\n"
    )
    write_doc(
        tmp_path,
        "globex/sla.md",
        "# Globex refund agreement\n\nGlobex refunds are wired within 2 days to account 7731 under contract GX-88.\n",
        org="globex",
    )
    write_doc(
        tmp_path,
        "initech/sla.md",
        "# Initech refund agreement\n\nInitech refunds are credited as store credit under contract IN-42.\n",
        org="initech",
    )
    summary = await kb.ingestor.ingest([tmp_path], IngestOptions())
    assert len(summary.added) == 3
    return kb


@pytest.mark.parametrize("mode", ALL_MODES)
async def test_an_org_never_sees_another_orgs_documents(tenants: Services, mode: SearchMode) -> None:
    for question in ("Globex refund agreement contract GX-88", "Initech refunds store credit", "refund"):
        globex = await tenants.searcher.search(question, org="globex", mode=mode, limit=10)
        assert {r.org for r in globex} <= {None, "globex"}
        initech = await tenants.searcher.search(question, org="initech", mode=mode, limit=10)
        assert {r.org for r in initech} <= {None, "initech"}
        public = await tenants.searcher.search(question, org=None, mode=mode, limit=10)
        assert {r.org for r in public} <= {None}


async def test_an_org_sees_its_own_and_public_documents(tenants: Services) -> None:
    results = await tenants.searcher.search("how are refunds paid under our contract", org="globex", limit=10)
    assert {r.doc_key for r in results} == {"globex/sla", "public/refunds"}
    unknown = await tenants.searcher.search("contract GX-88", org="nobody", limit=10)
    assert [r.doc_key for r in unknown] == ["public/refunds"]


async def test_results_carry_citation_metadata(kb: Services, tmp_path: Path) -> None:
    (tmp_path / "returns.md").write_text(
        "---\ntitle: Returns policy\nowner: returns@acme.example\nreview_by: 2099-05-01\n"
        "source_url: https://help.acme.example/returns\ntags: [returns]\n---\n# Returns\n\n## Window\n\n"
        "Return items within 30 days.\n",
        encoding="utf-8",
    )
    await kb.ingestor.ingest([tmp_path], IngestOptions())
    [result] = await kb.searcher.search("how long do I have to return something", org=None, limit=3)
    assert result.title == "Returns policy"
    assert result.heading_path == ("Returns", "Window")
    assert result.source_url == "https://help.acme.example/returns"
    assert result.owner == "returns@acme.example"
    assert result.freshness is Freshness.FRESH
    assert result.review_by == date(2099, 5, 1)
    assert result.updated_at.date() == date.today()
    assert set(result.scores) == {"dense", "lexical", "fused"}
    assert result.text == "Return items within 30 days."


async def test_stale_documents_are_down_weighted_and_flagged(kb: Services, tmp_path: Path) -> None:
    body = "# Warranty\n\nEvery gadget has a two year warranty covering manufacturing defects.\n"
    write_doc(tmp_path, "stale.md", body, review_by="2020-01-01")
    write_doc(tmp_path, "fresh.md", body, review_by="2099-01-01")
    await kb.ingestor.ingest([tmp_path], IngestOptions())
    results = await kb.searcher.search("how long is the warranty", org=None, limit=2)
    assert [r.doc_key for r in results] == ["fresh", "stale"]
    fresh, stale = results
    assert stale.freshness is Freshness.STALE and fresh.freshness is Freshness.FRESH
    assert stale.score == pytest.approx(fresh.score * 0.7)

    neutral = HybridSearcher(kb.pool, kb.embedder, SearchConfig(stale_weight=1.0))
    both = await neutral.search("how long is the warranty", org=None, limit=2)
    assert both[0].score == pytest.approx(both[1].score)


async def test_hybrid_finds_lexical_only_and_semantic_only_matches(kb: Services, tmp_path: Path) -> None:
    filler = [
        ("pairing", "# Bluetooth pairing\n\nHold the button for five seconds until the light blinks blue.\n"),
        ("wifi", "# Wi-Fi setup\n\nConnect the hub to a 2.4 GHz network; 5 GHz networks are not supported.\n"),
        ("battery", "# Battery life\n\nThe sensor battery lasts about a year with hourly reports.\n"),
        ("invoice", "# Invoices\n\nInvoices are emailed on the first day of each month as PDF files.\n"),
    ]
    for name, body in filler:
        write_doc(tmp_path, f"{name}.md", body)
    # a rare token that only the full-text side can match exactly
    write_doc(
        tmp_path,
        "codes.md",
        "# Device status codes\n\nCode ZX-4471 means the firmware image failed its checksum; reinstall the update.\n",
    )
    # shares no content word with the question below
    write_doc(
        tmp_path,
        "password.md",
        "# Signing in\n\nForgot your credentials? Use the reset link on the "
        "login page and we will email you a new one.\n",
    )
    await kb.ingestor.ingest([tmp_path], IngestOptions())

    lexical = await kb.searcher.search("ZX-4471", org=None, mode=SearchMode.HYBRID, limit=1)
    assert lexical[0].doc_key == "codes"
    fts = await kb.searcher.search("ZX-4471", org=None, mode=SearchMode.FTS, limit=3)
    assert [r.doc_key for r in fts] == ["codes"]

    question = "I can't remember my passcode, how do I get back into my profile?"
    assert await kb.searcher.search(question, org=None, mode=SearchMode.FTS, limit=3) == []
    semantic = await kb.searcher.search(question, org=None, mode=SearchMode.HYBRID, limit=1)
    assert semantic[0].doc_key == "password"


async def test_blank_question_returns_nothing(kb: Services) -> None:
    assert await kb.searcher.search("   ", org=None) == []


async def test_a_different_embedder_is_refused_with_the_reindex_command(kb: Services) -> None:
    with pytest.raises(EmbedderMismatch, match="supportbot reindex"):
        await kb.store.ensure_embedding_space("openai:text-embedding-3-small", 1536)
    await kb.store.ensure_embedding_space(kb.embedder.name, kb.embedder.dimension)  # same one is fine
