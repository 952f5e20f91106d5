"""The one exception tree of the handlers package."""


class HandlersError(Exception):
    """Base for every error raised by `handlers`."""


class RouterNotFitted(HandlersError):
    """A router was asked to route before it was fitted on labelled examples."""


class RoutingDataError(HandlersError, ValueError):
    """Labelled examples the router cannot use; the message names the file and line when there is one.

    Also a `ValueError`, so that commands report it as one sentence like other bad input.
    """
