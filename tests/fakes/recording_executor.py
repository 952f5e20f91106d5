"""A wrapper that records every call a real executor gets, in memory, before the executor's own
de-duplication: counting here shows each attempt to act, not only the effects that stuck."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from escalation.executors import ActionRequest, ActionResult, Executor


@dataclass(frozen=True)
class Run:
    action: str
    params: dict[str, Any]
    org: str | None
    ok: bool  # False: the executor refused or failed
    outcome: str  # its summary, or the error


class RecordingExecutor:
    def __init__(self, inner: Executor) -> None:
        self._inner = inner
        self.name = inner.name
        self.runs: list[Run] = []

    def actions(self) -> frozenset[str]:
        return self._inner.actions()

    async def execute(self, request: ActionRequest) -> ActionResult:
        try:
            result = await self._inner.execute(request)
        except Exception as exc:
            self.runs.append(
                Run(request.action, dict(request.params), request.org, False, f"{type(exc).__name__}: {exc}")
            )
            raise
        self.runs.append(Run(request.action, dict(request.params), request.org, True, result.summary))
        return result
