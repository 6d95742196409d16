"""Errors every face maps to a user-facing message (CLI text, HTTP status)."""


class TagscopeError(Exception):
    """Base class of every error Tagscope raises on purpose."""


class NotFoundError(TagscopeError):
    """A named or numbered thing (dataset, item, space, job) does not exist."""


class AlreadyExistsError(TagscopeError):
    """Creating something whose name is taken."""


class WriteConflictError(TagscopeError):
    """A change the catalog refused again and again because others were changing the same
    records at the same time (HTTP 503): nothing of it was saved; trying again later works."""


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


class AuthenticationError(TagscopeError):
    """No credentials, or credentials that name no one: a wrong password, an unknown, expired or
    revoked token, a session that ended (HTTP 401). The message never repeats the secret."""


class LockedOutError(AuthenticationError):
    """Logins refused for a while after repeated failures (HTTP 429); ``retry_after_s`` says
    how long."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermissionDeniedError(TagscopeError):
    """The caller is known but its role (or its token's scope) does not allow the action
    (HTTP 403). The message names the user, the action, the dataset and the role it needs."""
