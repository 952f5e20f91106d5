"""The one exception tree of the handlers package."""


class HandlersError(Exception):
    """Base for every error raised by `handlers`."""
