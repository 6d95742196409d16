"""Who acts: accounts' roles, tokens' scopes, and the identity every use case receives (F-90).

The decisions (which role may do what) are :mod:`tagscope.service.policy`'s; these are the plain
types it decides over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from tagscope.domain.errors import ValidationError

MAX_USER_NAME = 64  # the users table's name column
MIN_PASSWORD = 8


class Role(StrEnum):
    """A user's role: workspace-wide (the default) or on one dataset (overriding it)."""

    VIEWER = "viewer"  # read, search, SQL
    ANNOTATOR = "annotator"  # + label the items of the label jobs given to them
    REVIEWER = "reviewer"  # + review submitted label jobs: accept / reject
    EDITOR = "editor"  # + import, embed, tags, collections, bulk classify, label jobs
    ADMIN = "admin"  # everything: users and tokens, deleting datasets, changing complete items


class Scope(StrEnum):
    """What a token may do at most; never more than its user's role allows."""

    READ = "read"  # what a viewer may do
    WRITE = "write"  # everything but administration
    ADMIN = "admin"  # everything its user may do


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller of a use case.

    ``name`` is what the change log records as the actor. ``role`` is the workspace-wide role
    (None: none, only the roles of ``dataset_roles``, keyed by dataset id, which override it).
    A token caps these with its ``scope`` and, when ``token_dataset`` is set (a dataset id),
    reaches that dataset only. ``user_id`` is None for the workspace's owner (the CLI and SDK on
    the workspace folder, or a server started with ``--no-auth``), who may do everything.
    """

    name: str
    role: Role | None = Role.ADMIN
    dataset_roles: Mapping[int, Role] = field(default_factory=lambda: MappingProxyType({}))
    scope: Scope = Scope.ADMIN
    token_dataset: int | None = None
    user_id: int | None = None
    token_id: int | None = None

    @classmethod
    def owner(cls, name: str) -> Identity:
        """Whoever holds the workspace folder (the OS user): every right, no account needed."""
        return cls(name=name)

    @property
    def is_owner(self) -> bool:
        return self.user_id is None


@dataclass(frozen=True, slots=True)
class User:
    """An account (never its password hash)."""

    id: int
    name: str
    role: Role | None
    dataset_roles: Mapping[str, Role]  # dataset name -> role
    disabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token as listed (never the token itself, which is shown once at creation)."""

    id: int
    user: str
    name: str
    scope: Scope
    dataset: str | None  # the one dataset it reaches, or None for all its user's
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def parse_role(value: str, field_name: str = "role") -> Role:
    try:
        return Role(value)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise ValidationError(f"unknown role {value!r}: one of {roles}", field=field_name) from None


def parse_scope(value: str, field_name: str = "scope") -> Scope:
    try:
        return Scope(value)
    except ValueError:
        scopes = ", ".join(s.value for s in Scope)
        raise ValidationError(
            f"unknown scope {value!r}: one of {scopes}", field=field_name
        ) from None


def validate_user_name(name: str) -> str:
    """A user name: 1 to 64 letters, digits, ``.``, ``_``, ``-`` or ``@``."""
    ok = 0 < len(name) <= MAX_USER_NAME and all(c.isalnum() or c in "._-@" for c in name)
    if not ok or not name.isascii():
        raise ValidationError(
            f"invalid user name {name!r}: 1 to {MAX_USER_NAME} ASCII letters, digits, '.', '_', "
            "'-' or '@'",
            field="name",
        )
    return name


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            f"the password is too short: at least {MIN_PASSWORD} characters", field="password"
        )
    return password


__all__ = [
    "ApiToken",
    "Identity",
    "Role",
    "Scope",
    "User",
    "parse_role",
    "parse_scope",
    "validate_password",
    "validate_user_name",
]
