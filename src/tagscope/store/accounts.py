"""Repository of accounts (migration ``0011``): users and their roles per dataset, API tokens,
web sessions and failed logins.

It stores and finds; the rules (hashing, expiry, lock-outs, who may do what) are
:mod:`tagscope.service.accounts`'s. Secrets arrive here already digested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tagscope.domain import AlreadyExistsError, NotFoundError
from tagscope.domain.access import ApiToken, Role, Scope, User
from tagscope.store.access_schema import (
    ApiTokenRow,
    LoginFailureRow,
    SessionRow,
    UserDatasetRoleRow,
    UserRow,
)
from tagscope.store.catalog import Catalog
from tagscope.store.change_log import as_utc
from tagscope.store.schema import DatasetRow, utcnow


@dataclass(frozen=True, slots=True)
class Account:
    """A user as logins and tokens check it: with its password hash, and roles by dataset id."""

    id: int
    name: str
    password_hash: str
    role: Role | None
    dataset_roles: MappingProxyType[int, Role]
    disabled: bool
    password_changed_at: datetime


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A token found by its digest (what its check needs)."""

    id: int
    name: str
    scope: Scope
    dataset_id: int | None
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: int
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LoginFailures:
    """The failed logins of one key (``user:NAME`` or ``addr:IP``)."""

    key: str
    failures: int
    last_failure_at: datetime
    locked_until: datetime | None
    lockouts: int  # lock-outs in a row


def _maybe(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def _role(value: str | None) -> Role | None:
    return None if value is None else Role(value)


def _token(row: ApiTokenRow, user: str, dataset: str | None) -> ApiToken:
    return ApiToken(
        id=row.id,
        user=user,
        name=row.name,
        scope=Scope(row.scope),
        dataset=dataset,
        created_at=as_utc(row.created_at),
        expires_at=_maybe(row.expires_at),
        last_used_at=_maybe(row.last_used_at),
        revoked_at=_maybe(row.revoked_at),
    )


def _account(row: UserRow, roles: dict[int, Role]) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        password_hash=row.password_hash,
        role=_role(row.role),
        dataset_roles=MappingProxyType(roles),
        disabled=row.disabled,
        password_changed_at=as_utc(row.password_changed_at),
    )


class AccountCatalog:
    """Accounts in the catalog database; each method is one transaction, or joins the open
    unit of work (:meth:`Catalog.transaction`)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- users ----------------------------------------------------------------------------
    def add_user(self, name: str, password_hash: str, role: Role | None) -> User:
        try:
            with self.catalog.session() as s:
                row = UserRow(name=name, password_hash=password_hash, role=role, disabled=False)
                s.add(row)
                s.flush()
                return self._user(s, row)
        except IntegrityError as exc:
            raise AlreadyExistsError(f"user {name!r} already exists") from exc

    def get_user(self, name: str) -> User:
        with self.catalog.session() as s:
            return self._user(s, self._user_row(s, name))

    def list_users(self) -> list[User]:
        """Every user by name, with its roles per dataset (by dataset name)."""
        with self.catalog.session() as s:
            roles = self._dataset_role_names(s, None)
            rows = s.scalars(select(UserRow).order_by(UserRow.name))
            return [self._user(s, r, roles.get(r.id, {})) for r in rows]

    def account(self, name: str) -> Account | None:
        """The account named ``name`` (None when there is none)."""
        with self.catalog.session() as s:
            row = s.scalars(select(UserRow).where(UserRow.name == name)).one_or_none()
            return None if row is None else self._account(s, row)

    def set_role(self, user_id: int, role: Role | None) -> None:
        with self.catalog.session() as s:
            s.execute(update(UserRow).where(UserRow.id == user_id).values(role=role))

    def set_dataset_role(self, user_id: int, dataset_id: int, role: Role | None) -> None:
        """Set the user's role on one dataset; None removes it (the workspace role counts)."""
        with self.catalog.session() as s:
            row = s.get(UserDatasetRoleRow, (user_id, dataset_id))
            if role is None:
                if row is not None:
                    s.delete(row)
            elif row is None:
                s.add(UserDatasetRoleRow(user_id=user_id, dataset_id=dataset_id, role=role))
            else:
                row.role = role

    def set_disabled(self, user_id: int, disabled: bool) -> None:
        """Disable (ending its sessions) or enable a user."""
        with self.catalog.session() as s:
            values: dict[str, object] = {"disabled": disabled}
            if disabled:
                values["password_changed_at"] = utcnow()
                s.execute(delete(SessionRow).where(SessionRow.user_id == user_id))
            s.execute(update(UserRow).where(UserRow.id == user_id).values(**values))

    def set_password(self, user_id: int, password_hash: str, *, end_sessions: bool = True) -> None:
        """A new password hash; ``end_sessions``: the user's sessions end (a reset), else they
        go on (a hash upgraded at login)."""
        with self.catalog.session() as s:
            values: dict[str, object] = {"password_hash": password_hash}
            if end_sessions:
                values["password_changed_at"] = utcnow()
                s.execute(delete(SessionRow).where(SessionRow.user_id == user_id))
            s.execute(update(UserRow).where(UserRow.id == user_id).values(**values))

    def enabled_admins(self) -> list[str]:
        """The names of the enabled workspace admins, locked against concurrent changes until
        the open transaction ends (on PostgreSQL; SQLite's writer lock already is)."""
        stmt = (
            select(UserRow.name)
            .where(UserRow.role == Role.ADMIN, UserRow.disabled.is_(False))
            .order_by(UserRow.name)
            .with_for_update()
        )
        with self.catalog.session() as s:
            return list(s.scalars(stmt))

    def _user_row(self, s: Session, name: str) -> UserRow:
        row = s.scalars(select(UserRow).where(UserRow.name == name)).one_or_none()
        if row is None:
            raise NotFoundError(f"no user named {name!r}")
        return row

    def _dataset_role_names(self, s: Session, user_id: int | None) -> dict[int, dict[str, Role]]:
        stmt = (
            select(UserDatasetRoleRow.user_id, DatasetRow.name, UserDatasetRoleRow.role)
            .join(DatasetRow, DatasetRow.id == UserDatasetRoleRow.dataset_id)
            .order_by(DatasetRow.name)
        )
        if user_id is not None:
            stmt = stmt.where(UserDatasetRoleRow.user_id == user_id)
        out: dict[int, dict[str, Role]] = {}
        for uid, dataset, role in s.execute(stmt):
            out.setdefault(uid, {})[dataset] = Role(role)
        return out

    def _user(self, s: Session, row: UserRow, roles: dict[str, Role] | None = None) -> User:
        if roles is None:
            roles = self._dataset_role_names(s, row.id).get(row.id, {})
        return User(
            id=row.id,
            name=row.name,
            role=_role(row.role),
            dataset_roles=MappingProxyType(roles),
            disabled=row.disabled,
            created_at=as_utc(row.created_at),
        )

    def _account(self, s: Session, row: UserRow) -> Account:
        stmt = select(UserDatasetRoleRow.dataset_id, UserDatasetRoleRow.role).where(
            UserDatasetRoleRow.user_id == row.id
        )
        return _account(row, {d: Role(r) for d, r in s.execute(stmt)})

    # -- API tokens -----------------------------------------------------------------------
    def add_token(
        self,
        user_id: int,
        name: str,
        digest: str,
        scope: Scope,
        dataset_id: int | None,
        expires_at: datetime | None,
    ) -> ApiToken:
        try:
            with self.catalog.session() as s:
                row = ApiTokenRow(
                    user_id=user_id,
                    name=name,
                    token_hash=digest,
                    scope=scope,
                    dataset_id=dataset_id,
                    expires_at=expires_at,
                )
                s.add(row)
                s.flush()
                user = s.get(UserRow, user_id)
                dataset = s.get(DatasetRow, dataset_id) if dataset_id is not None else None
                return _token(row, user.name if user else "", dataset.name if dataset else None)
        except IntegrityError as exc:
            raise AlreadyExistsError(f"the user already has a token named {name!r}") from exc

    def list_tokens(self, user_id: int | None = None) -> list[ApiToken]:
        """The tokens (of one user, or all) by user name and token name."""
        stmt = (
            select(ApiTokenRow, UserRow.name, DatasetRow.name)
            .join(UserRow, UserRow.id == ApiTokenRow.user_id)
            .outerjoin(DatasetRow, DatasetRow.id == ApiTokenRow.dataset_id)
            .order_by(UserRow.name, ApiTokenRow.name)
        )
        if user_id is not None:
            stmt = stmt.where(ApiTokenRow.user_id == user_id)
        with self.catalog.session() as s:
            return [_token(row, user, dataset) for row, user, dataset in s.execute(stmt)]

    def revoke_token(self, user_id: int, name: str, when: datetime) -> ApiToken:
        """Revoke the token (once: a second revoke keeps the first time)."""
        with self.catalog.session() as s:
            s.execute(
                update(ApiTokenRow)
                .where(
                    ApiTokenRow.user_id == user_id,
                    ApiTokenRow.name == name,
                    ApiTokenRow.revoked_at.is_(None),
                )
                .values(revoked_at=when)
            )
        for token in self.list_tokens(user_id):
            if token.name == name:
                return token
        raise NotFoundError(f"the user has no token named {name!r}")

    def token_by_digest(self, digest: str) -> tuple[TokenRecord, Account] | None:
        """The token and its user, in one indexed lookup (a row per role of the user on a
        dataset: it runs on every API request)."""
        found = self._by_digest(ApiTokenRow, digest)
        if found is None:
            return None
        row, account = found
        token = TokenRecord(
            id=row.id,
            name=row.name,
            scope=Scope(row.scope),
            dataset_id=row.dataset_id,
            expires_at=_maybe(row.expires_at),
            last_used_at=_maybe(row.last_used_at),
            revoked_at=_maybe(row.revoked_at),
        )
        return token, account

    def _by_digest(
        self, table: type[ApiTokenRow] | type[SessionRow], digest: str
    ) -> tuple[Any, Account] | None:
        """The row of ``table`` (tokens or sessions) with that digest and its user with the
        user's roles per dataset, in one indexed query (a row per role)."""
        stmt = (
            select(table, UserRow, UserDatasetRoleRow.dataset_id, UserDatasetRoleRow.role)
            .join(UserRow, UserRow.id == table.user_id)
            .outerjoin(UserDatasetRoleRow, UserDatasetRoleRow.user_id == UserRow.id)
            .where(table.token_hash == digest)
        )
        with self.catalog.session() as s:
            rows = s.execute(stmt).all()
        if not rows:
            return None
        roles = {d: Role(r) for _, _, d, r in rows if d is not None}
        return rows[0][0], _account(rows[0][1], roles)

    def touch_token(self, token_id: int, now: datetime, unless_since: datetime) -> bool:
        """Set the token's last use to ``now`` unless it was used at or after ``unless_since``
        (another process just did); whether it wrote."""
        stmt = (
            update(ApiTokenRow)
            .where(
                ApiTokenRow.id == token_id,
                or_(ApiTokenRow.last_used_at.is_(None), ApiTokenRow.last_used_at < unless_since),
            )
            .values(last_used_at=now)
        )
        with self.catalog.session() as s:
            return s.execute(stmt).rowcount > 0

    # -- sessions -------------------------------------------------------------------------
    def add_session(
        self, digest: str, user_id: int, expires_at: datetime, address: str | None
    ) -> None:
        with self.catalog.session() as s:
            s.add(
                SessionRow(
                    token_hash=digest,
                    user_id=user_id,
                    expires_at=expires_at,
                    address=address[:64] if address else None,
                )
            )

    def session_by_digest(self, digest: str) -> tuple[SessionRecord, Account] | None:
        """The session and its user, in one indexed lookup (as :meth:`token_by_digest`)."""
        found = self._by_digest(SessionRow, digest)
        if found is None:
            return None
        row, account = found
        return SessionRecord(row.id, as_utc(row.created_at), as_utc(row.expires_at)), account

    def delete_session(self, digest: str) -> None:
        with self.catalog.session() as s:
            s.execute(delete(SessionRow).where(SessionRow.token_hash == digest))

    def delete_expired_sessions(self, now: datetime) -> int:
        with self.catalog.session() as s:
            return s.execute(delete(SessionRow).where(SessionRow.expires_at < now)).rowcount

    # -- failed logins --------------------------------------------------------------------
    def login_failures(self, keys: Sequence[str]) -> list[LoginFailures]:
        """The failure records of those keys that have one (locked until the transaction ends,
        on PostgreSQL, so that concurrent failures all count)."""
        stmt = select(LoginFailureRow).where(LoginFailureRow.key.in_(list(keys)))
        with self.catalog.session() as s:
            return [
                LoginFailures(
                    key=r.key,
                    failures=r.failures,
                    last_failure_at=as_utc(r.last_failure_at),
                    locked_until=_maybe(r.locked_until),
                    lockouts=r.lockouts,
                )
                for r in s.scalars(stmt.with_for_update())
            ]

    def save_login_failures(self, record: LoginFailures) -> None:
        values = {
            "key": record.key,
            "failures": record.failures,
            "last_failure_at": record.last_failure_at,
            "locked_until": record.locked_until,
            "lockouts": record.lockouts,
        }
        dialect = sqlite if self.catalog.engine.dialect.name == "sqlite" else postgresql
        stmt = dialect.insert(LoginFailureRow.__table__).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"], set_={k: v for k, v in values.items() if k != "key"}
        )
        with self.catalog.session() as s:
            s.execute(stmt)

    def clear_login_failures(self, keys: Sequence[str]) -> None:
        with self.catalog.session() as s:
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.key.in_(list(keys))))


__all__ = ["Account", "AccountCatalog", "LoginFailures", "SessionRecord", "TokenRecord"]
