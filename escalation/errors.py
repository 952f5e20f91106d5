"""The one exception tree of the escalation package."""


class EscalationError(Exception):
    """Base for every error raised by `escalation`."""


class PolicyError(EscalationError):
    """The policy file is invalid; the message names the file, line and field."""


class ApprovalNotFound(EscalationError):
    """No approval has that id."""


class NotAuthorized(EscalationError):
    """The actor may not take this decision; the message says why."""


class AlreadyDecided(EscalationError):
    """Another decision won the race or came first; the message says which and by whom."""


class ExecutionFailed(EscalationError):
    """An executor could not perform an action."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class UnknownAction(EscalationError):
    """No executor is registered for an action."""


class PromotionRefused(EscalationError):
    """A workflow may not get more autonomy yet; the message names what stands in the way (a failing scenario)."""
