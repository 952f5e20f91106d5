"""What a run measured, and how it compares with the targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bench.approvals import ApprovalsResult
from bench.core import CoreResult
from bench.core_cpu import CpuResult
from bench.database import LoadStats
from bench.ingest_speed import IngestRuns
from bench.latency import ModeLatency
from bench.recall import Recall
from bench.slack_ack import SlackResult
from bench.slack_summary import target_rows as slack_target_rows
from knowledge.models import SearchMode

TARGET_SIZE = 100_000
HYBRID_P95_MS = 20.0
RECALL = 0.95
INGEST_RATIO = 0.8


@dataclass
class SizeResult:
    load: LoadStats
    latency: list[ModeLatency]
    fts_matches: list[int]
    recall: Recall
    plans: list[tuple[str, str]] = field(default_factory=list)
    prepared: tuple[int, int, int] | None = None

    @property
    def size(self) -> int:
        return self.load.chunks

    def mode(self, mode: SearchMode) -> ModeLatency:
        return next(latency for latency in self.latency if latency.mode is mode)


@dataclass
class Results:
    started: datetime
    command: str
    machine: dict[str, str]
    ef_search: int
    candidates: int
    queries: int
    warmup: int
    sizes: list[SizeResult]
    ingest: IngestRuns | None
    approvals: ApprovalsResult | None = None
    core: CoreResult | None = None
    core_cpu: CpuResult | None = None
    slack: SlackResult | None = None
    seconds: float = 0.0


def _verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**MISS**"


def targets(results: Results) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, verdict) rows."""
    rows: list[tuple[str, str, str, str]] = []
    at_target = [size for size in results.sizes if size.size == TARGET_SIZE]
    if at_target:
        p95 = at_target[0].mode(SearchMode.HYBRID).stats.p95
        rows.append(
            (
                f"hybrid p95 at {TARGET_SIZE:,} chunks",
                f"{p95:.1f} ms",
                f"≤ {HYBRID_P95_MS:.0f} ms",
                _verdict(p95 <= HYBRID_P95_MS),
            )
        )
    else:
        largest = max(results.sizes, key=lambda size: size.size)
        p95 = largest.mode(SearchMode.HYBRID).stats.p95
        rows.append(
            (
                f"hybrid p95 at {largest.size:,} chunks",
                f"{p95:.1f} ms",
                f"≤ {HYBRID_P95_MS:.0f} ms at {TARGET_SIZE:,}",
                "not judged (target size not run)",
            )
        )
    for size in results.sizes:
        recall = size.recall.hnsw_public
        rows.append(
            (f"HNSW recall@10 at {size.size:,} chunks", f"{recall:.3f}", f"≥ {RECALL}", _verdict(recall >= RECALL))
        )
    if results.ingest is not None:
        ratio = results.ingest.ratio
        rows.append(
            ("ingest ÷ embed-only throughput", f"{ratio:.2f}", f"≥ {INGEST_RATIO}", _verdict(ratio >= INGEST_RATIO))
        )
    if results.slack is not None:
        rows += slack_target_rows(results.slack)
    return rows
