"""Knowledge commands: ingest, search, docs, gaps, reindex."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.common import progress_bar, run_async, settings
from bot.presentation import words
from bot.services import open_services
from escalation.durations import parse_duration
from knowledge.embedder import Embedder
from knowledge.ingest import IngestOptions, IngestSummary
from knowledge.models import Freshness, SearchMode, SearchResult, embedding_input
from knowledge.sources import KnowledgeSources
from knowledge.store import KnowledgeStore
from knowledge.units import embedding_text, unit_key, units_of

out = Console()


def _duration(value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def print_summary(summary: IngestSummary) -> None:
    out.print(
        f"added {len(summary.added)}, updated {len(summary.updated)}, unchanged {len(summary.unchanged)}, "
        f"skipped {len(summary.skipped)}, failed {len(summary.failed)}"
        + (f", pruned {len(summary.pruned)}" if summary.pruned else "")
        + f" ({summary.chunks_written} chunks written)",
        highlight=False,
    )
    for path, reason in summary.skipped:
        out.print(f"  skipped {path}: {reason}", highlight=False, soft_wrap=True)
    for key, reason in summary.failed:
        out.print(f"  [red]failed[/] {key}: {reason}", highlight=False, soft_wrap=True)
    for key in summary.pruned:
        out.print(f"  pruned {key}", highlight=False)


@run_async
async def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (Markdown, text, HTML, PDF).")],
    org: Annotated[str | None, typer.Option(help="Org the documents belong to; default: public.")] = None,
    owner: Annotated[str | None, typer.Option(help="Owner for documents whose front matter names none.")] = None,
    review_every: Annotated[
        str | None, typer.Option("--review-every", help="Review interval when front matter has no review_by (90d).")
    ] = None,
    prune: Annotated[bool, typer.Option(help="Remove stored documents whose files are gone.")] = False,
) -> None:
    """Add or update documents; unchanged ones cost nothing."""
    config = settings()
    interval = _duration(review_every) if review_every else config.review_interval
    options = IngestOptions(
        org=org.lower() if org else None,
        owner=owner or config.default_owner,
        review_every=interval,
        prune=prune,
        max_bytes=config.max_file_bytes,
        max_chars=config.chunk_max_chars,
    )
    async with open_services(config) as services:
        with progress_bar() as bar:
            task = bar.add_task("ingesting", total=None)

            def advance(_: str) -> None:
                bar.advance(task)

            summary = await services.ingestor.ingest(paths, options, on_file=advance)
        # where this org's knowledge comes from: the weekly evaluation loads it again, with its questions file
        await KnowledgeSources(services.pool).record([path for path in paths if path.exists()], org=options.org)
    print_summary(summary)
    if summary.failed:
        raise typer.Exit(1)


def _result_json(result: SearchResult) -> dict[str, Any]:
    return {
        "document_id": result.document_id,
        "doc_key": result.doc_key,
        "org": result.org,
        "title": result.title,
        "heading_path": list(result.heading_path),
        "source_url": result.source_url,
        "owner": result.owner,
        "updated_at": result.updated_at.isoformat(),
        "review_by": result.review_by.isoformat(),
        "freshness": result.freshness.value,
        "score": round(result.score, 4),
        "scores": {name: round(value, 4) for name, value in result.scores.items()},
        "text": result.text,
    }


@run_async
async def search(
    question: Annotated[str, typer.Argument(help="What a customer would ask.")],
    org: Annotated[str | None, typer.Option(help="Search as this org (its documents plus public ones).")] = None,
    mode: Annotated[SearchMode, typer.Option(help="hybrid, dense or fts.")] = SearchMode.HYBRID,
    limit: Annotated[int, typer.Option(min=1, max=50, help="How many passages.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search the knowledge base and print cited passages."""
    async with open_services(settings()) as services:
        results = await services.searcher.search(
            question, org=org.lower() if org else None, mode=mode, limit=limit, per_document=2
        )
    if as_json:
        out.print_json(data=[_result_json(result) for result in results])
        return
    if not results:
        out.print("No passage matches; nothing in the knowledge base answers this.")
        return
    for number, result in enumerate(results, start=1):
        stale = (
            f" [bold yellow]{words.STALE_MARK} {words.PAST_REVIEW}[/]" if (result.freshness is Freshness.STALE) else ""
        )
        out.print(f"[bold][{number}] {result.citation}[/]{stale}", highlight=False)
        out.print(
            f"    {result.source_url or result.doc_key} · owner {result.owner or 'none'} · "
            f"{words.age(result.updated_at)} · review by {result.review_by} · "
            f"score {result.score:.3f} (dense {result.scores['dense']:.3f}, lexical {result.scores['lexical']:.3f})",
            highlight=False,
            style="dim",
        )
        passage = " ".join(result.text.split())
        out.print(f"    {passage[:400]}{'…' if len(passage) > 400 else ''}\n", highlight=False)


@run_async
async def docs(
    stale: Annotated[bool, typer.Option("--stale", help="Only documents past their review date.")] = False,
    no_owner: Annotated[bool, typer.Option("--no-owner", help="Only documents without an owner.")] = False,
    org: Annotated[str | None, typer.Option(help="Only this org's documents (and public ones).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List documents with owner, review date and freshness."""
    today = date.today()
    async with open_services(settings()) as services:
        records = await services.store.documents(org=org.lower() if org else None)
    if stale:
        records = [record for record in records if record.freshness(today) is Freshness.STALE]
    if no_owner:
        records = [record for record in records if not record.owner]
    if as_json:
        out.print_json(
            data=[
                {
                    "doc_key": r.doc_key,
                    "org": r.org,
                    "title": r.title,
                    "owner": r.owner,
                    "review_by": str(r.review_by),
                    "freshness": r.freshness(today).value,
                    "chunks": r.chunk_count,
                    "source_url": r.source_url,
                }
                for r in records
            ]
        )
        return
    table = Table("document", "org", "owner", "review by", "state", "chunks")
    for r in records:
        state = r.freshness(today).value
        table.add_row(
            r.doc_key,
            r.org or "public",
            r.owner or "[red]none[/]",
            str(r.review_by),
            f"[yellow]{state}[/]" if state == "stale" else state,
            str(r.chunk_count),
        )
    out.print(table)
    out.print(f"{len(records)} document{'s' if len(records) != 1 else ''}")


@run_async
async def gaps(
    since: Annotated[str, typer.Option(help="How far back (e.g. 7d, 4w).")] = "7d",
    org: Annotated[str | None, typer.Option(help="Only this org's questions.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Questions the bot could not answer well, grouped by similarity."""
    start = datetime.now(UTC) - _duration(since)
    async with open_services(settings()) as services:
        groups = await services.gaps.groups(since=start, org=org.lower() if org else None)
    if as_json:
        out.print_json(
            data=[
                {
                    "example": g.example,
                    "count": g.count,
                    "reasons": g.reasons,
                    "orgs": g.orgs,
                    "questions": [gap.question for gap in g.gaps],
                }
                for g in groups
            ]
        )
        return
    if not groups:
        out.print(f"No knowledge gaps recorded since {start:%Y-%m-%d}.")
        return
    table = Table("count", "example question", "reasons", "orgs")
    for group in groups:
        reasons = ", ".join(f"{name} {count}" for name, count in sorted(group.reasons.items()))
        table.add_row(str(group.count), group.example, reasons, ", ".join(group.orgs))
    out.print(table)


@run_async
async def reindex() -> None:
    """Re-embed every chunk and gap with the configured embedder (after changing EMBEDDER)."""
    async with open_services(settings(), check_embedder=False) as services:
        embedder, store = services.embedder, services.store
        await store.reset_embedding_space(embedder.name, embedder.dimension)
        rows = await store.chunk_texts()
        batch = services.settings.embedding_batch_size * 4
        with progress_bar() as bar:
            task = bar.add_task("re-embedding", total=len(rows))
            for start in range(0, len(rows), batch):
                part = rows[start : start + batch]
                vectors = await embedder.embed([embedding_input(context, body) for _, context, body in part])
                await store.set_embeddings([chunk_id for chunk_id, _, _ in part], vectors)
                await _reembed_units(embedder, store, [(chunk_id, body) for chunk_id, _, body in part])
                bar.advance(task, len(part))
        regapped = await services.gaps.reembed()
    out.print(f"re-embedded {len(rows)} chunks and {regapped} gaps with {embedder.name}")


async def _reembed_units(embedder: Embedder, store: KnowledgeStore, chunks: list[tuple[int, str]]) -> None:
    """The units an answer compares with a question (knowledge/units.py), in the new embedder's space too."""
    wanted = list(
        dict.fromkeys((chunk_id, embedding_text(unit)) for chunk_id, body in chunks for unit in units_of(body))
    )
    if wanted:
        vectors = await embedder.embed([text for _, text in wanted])
        await store.add_unit_vectors(
            [(chunk_id, unit_key(text), vector) for (chunk_id, text), vector in zip(wanted, vectors, strict=True)]
        )


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("search")(search)
    app.command("docs")(docs)
    app.command("gaps")(gaps)
    app.command("reindex")(reindex)
