"""The executor port: where approved actions actually happen (a demo back end, a webhook, …)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from escalation.errors import UnknownAction


@dataclass(frozen=True)
class ActionRequest:
    """One action to perform exactly once.

    `idempotency_key` is stable across retries and restarts: an executor that sees a key it
    has already completed must return the stored result and do nothing again.
    """

    action: str  # e.g. "refund", "cancel_order", "change_email"
    params: dict[str, Any]
    idempotency_key: str
    org: str | None = None
    approval_id: str | None = None


@dataclass(frozen=True)
class ActionResult:
    """What happened. `reverse_params` is what the declared rollback action needs to undo it."""

    summary: str  # one sentence a customer may read, e.g. "Refunded $40.00 to the card ending 4242"
    data: dict[str, Any] = field(default_factory=dict)
    reverse_params: dict[str, Any] | None = None
    replayed: bool = False  # True when the key was seen before and nothing ran now


class Executor(Protocol):
    """Performs actions. Raises `ExecutionFailed(retryable=…)` when it cannot."""

    name: str  # who ran it, in the audit log: "demo", "webhook", …

    def actions(self) -> frozenset[str]: ...

    async def execute(self, request: ActionRequest) -> ActionResult: ...


class ExecutorRegistry:
    """Chooses the executor for each action name; built once in the composition root."""

    def __init__(self) -> None:
        self._by_action: dict[str, Executor] = {}

    def register(self, executor: Executor) -> None:
        """Raises ExecutorConflict when another executor already runs one of its actions: which one should
        run a refund is the operator's choice, never the order of registration."""
        for action in sorted(executor.actions()):
            other = self._by_action.get(action)
            if other is not None and other is not executor:
                raise ExecutorConflict(action, other.name, executor.name)
        for action in executor.actions():
            self._by_action[action] = executor

    def for_action(self, action: str) -> Executor:
        try:
            return self._by_action[action]
        except KeyError:
            raise UnknownAction(f"no executor handles action '{action}'") from None

    def known(self) -> frozenset[str]:
        return frozenset(self._by_action)

    def name_for(self, action: str) -> str | None:
        executor = self._by_action.get(action)
        return executor.name if executor is not None else None


class ExecutorConflict(ValueError):
    def __init__(self, action: str, first: str, second: str) -> None:
        super().__init__(f"action '{action}' is claimed by two executors: {first} and {second}")
        self.action, self.first, self.second = action, first, second
