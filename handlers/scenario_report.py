"""Figures of a scenario run: pass rate over every attempt, and pass^k (the share of scenarios that passed in
all k attempts, as tau-bench reports it), per mode (offline, and the model when one is configured)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from handlers.scenario_run import ScenarioResult


@dataclass(frozen=True)
class ModeSummary:
    mode: str
    scenarios: int
    runs: int  # k
    pass_rate: float  # passed attempts / all attempts
    pass_hat_k: float  # scenarios passing in all k attempts / scenarios
    seconds: float
    failures: tuple[ScenarioResult, ...]  # the first failed attempt of each scenario that failed at least once
    failing_workflows: dict[str, list[str]]  # workflow -> ids of its scenarios that failed at least once
    passing_workflows: tuple[str, ...]  # workflows with scenarios, all of which passed every attempt

    @property
    def scenarios_per_second(self) -> float:
        return self.scenarios * self.runs / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "scenarios": self.scenarios,
            "runs": self.runs,
            "pass_rate": round(self.pass_rate, 4),
            f"pass^{self.runs}": round(self.pass_hat_k, 4),
            "seconds": round(self.seconds, 2),
            "scenarios_per_second": round(self.scenarios_per_second, 2),
            "failures": [
                {
                    "scenario": result.id,
                    "source": result.source,
                    "step": result.failure.step,
                    "expectation": result.failure.mismatch.expectation,
                    "expected": result.failure.mismatch.expected,
                    "got": result.failure.mismatch.got,
                    "decision_id": result.failure.decision_id,
                }
                for result in self.failures
                if result.failure is not None
            ],
            "failing_workflows": self.failing_workflows,
            "passing_workflows": list(self.passing_workflows),
        }


def summarise(mode: str, attempts: Sequence[Sequence[ScenarioResult]], *, seconds: float = 0.0) -> ModeSummary:
    """`attempts[i]` holds the k results of scenario i (same order in each)."""
    scenarios = len(attempts)
    runs = max((len(results) for results in attempts), default=0)
    total = sum(len(results) for results in attempts)
    passed = sum(result.passed for results in attempts for result in results)
    always = sum(all(result.passed for result in results) and bool(results) for results in attempts)
    failures = tuple(
        next(r for r in results if not r.passed) for results in attempts if not all(r.passed for r in results)
    )
    failing: dict[str, list[str]] = {}
    covered: set[str] = set()
    for results in attempts:
        for workflow in results[0].workflows if results else ():
            covered.add(workflow)
            if not all(r.passed for r in results):
                failing.setdefault(workflow, []).append(results[0].id)
    return ModeSummary(
        mode=mode,
        scenarios=scenarios,
        runs=runs,
        pass_rate=passed / total if total else 0.0,
        pass_hat_k=always / scenarios if scenarios else 0.0,
        seconds=seconds,
        failures=failures,
        failing_workflows=failing,
        passing_workflows=tuple(sorted(covered - set(failing))),
    )
