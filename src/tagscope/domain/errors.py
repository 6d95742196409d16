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


class SqlError(ValidationError):
    """A SQL query that could not run: a syntax error, an unknown table or column, or a limit
    reached. ``field`` is ``"sql"`` (``"where"`` for a grid filter expression)."""

    def __init__(self, message: str, *, field: str | None = "sql") -> None:
        super().__init__(message, field=field)


class SqlRefusedError(SqlError):
    """A statement the read-only SQL sandbox refuses: writes, files, network, settings, extensions,
    several statements at once."""


class SqlTimeoutError(SqlError):
    """A query stopped at the time limit of the SQL session."""
