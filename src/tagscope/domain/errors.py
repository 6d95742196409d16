"""Errors every face maps to a user-facing message (CLI text, HTTP status)."""


class TagscopeError(Exception):
    """Base class of every error Tagscope raises on purpose."""


class NotFoundError(TagscopeError):
    """A named or numbered thing (dataset, item, space, job) does not exist."""


class AlreadyExistsError(TagscopeError):
    """Creating something whose name is taken."""


class ValidationError(TagscopeError):
    """Input that breaks a rule; ``field`` names the offending input."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ModelUnavailableError(TagscopeError):
    """An embedding model cannot be loaded (offline machine, missing weights)."""
