"""The doctor's knowledge lines: documents and domains nobody owns, documents past review, prompts without an
owner. Pure: the caller reads the documents and templates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date

from escalation.readiness import Check, failed, passed, warned
from knowledge.models import DocumentRecord, Freshness

SHOWN = 5  # names listed on one line; the count says how many more


def _some(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def _label(doc: DocumentRecord) -> str:
    return f"{doc.org}:{doc.doc_key}" if doc.org else doc.doc_key


def domains_of(doc: DocumentRecord) -> set[str]:
    """A document's knowledge domains: its tags, and the folder its id starts with (`returns/…` → returns/)."""
    folder = {doc.doc_key.split("/", 1)[0] + "/"} if "/" in doc.doc_key else set()
    return {f"tag {tag}" for tag in doc.tags} | {f"folder {name}" for name in folder}


def knowledge_checks(documents: list[DocumentRecord], *, today: date) -> list[Check]:
    if not documents:
        return [
            warned(
                "knowledge.documents",
                "no documents are ingested, so every question is handed to a person",
                "Ingest your help centre with `supportbot ingest PATH --owner EMAIL`.",
            )
        ]
    unowned = [_label(doc) for doc in documents if not doc.owner]
    stale = [_label(doc) for doc in documents if doc.freshness(today) is Freshness.STALE]
    checks = [
        warned(
            "knowledge.owners",
            f"{len(unowned)} of {len(documents)} documents name no owner: {_some(unowned)}",
            "Add `owner:` to their front matter (or ingest with --owner / DEFAULT_OWNER) and ingest them again.",
        )
        if unowned
        else passed("knowledge.owners", f"all {len(documents)} documents name an owner"),
        warned(
            "knowledge.review",
            f"{len(stale)} of {len(documents)} documents are past their review date: {_some(stale)}",
            "Have their owners review them and move `review_by` forward (`supportbot docs --stale` lists them).",
        )
        if stale
        else passed("knowledge.review", f"all {len(documents)} documents are within their review date"),
    ]
    owners: dict[str, set[str]] = defaultdict(set)
    for doc in documents:
        for domain in domains_of(doc):
            owners[domain] |= {doc.owner} if doc.owner else set()
    orphans = sorted(domain for domain, named in owners.items() if not named)
    checks.append(
        warned(
            "knowledge.domains",
            f"{len(orphans)} of {len(owners)} knowledge domains have no document with an owner: {_some(orphans)}",
            "Name an owner in the front matter of the documents of each of these tags and folders.",
        )
        if orphans
        else passed("knowledge.domains", f"each of {len(owners)} knowledge domains (tags, folders) has an owner")
    )
    return checks


def prompt_check(owners: Mapping[str, str | None]) -> Check:
    missing = sorted(name for name, owner in owners.items() if not owner)
    if missing:
        return failed(
            "prompts.owners",
            f"prompt templates without an owner: {', '.join(missing)} (the bot refuses to load them)",
            "Add `owner:` to the front matter of each in handlers/prompts/.",
        )
    return passed("prompts.owners", ", ".join(f"{name}: {owner}" for name, owner in owners.items()))
