"""Accounts (F-90): users and their roles, API tokens, web sessions, and the lock-out of repeated
failed logins.

Passwords are stored as Argon2id hashes (pwdlib), verified in constant time; a login under a
name that does not exist still verifies one (fixed) hash, so its answer takes as long and says
the same thing ("wrong user name or password"). Tokens (``tsk_`` + 256 random bits) and session
secrets are stored as SHA-256 digests only: they are shown once and cannot be read back.

Every use case but the checks of credentials asks :mod:`tagscope.service.policy` first (managing
users is users.manage; a user may manage its own tokens).

Examples
--------
>>> add_user(ws, "alice", "correct horse", role="admin").role           # doctest: +SKIP
<Role.ADMIN: 'admin'>
>>> token, secret = create_token(ws, "alice", "ci", expires_in=timedelta(days=30))
>>> identity_for_token(ws, secret).name                                # doctest: +SKIP
'alice'
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache

from pwdlib import PasswordHash

from tagscope.domain import AuthenticationError, LockedOutError, NotFoundError, ValidationError
from tagscope.domain.access import (
    ApiToken,
    Identity,
    Role,
    Scope,
    User,
    parse_role,
    parse_scope,
    validate_password,
    validate_user_name,
)
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.accounts import Account, AccountCatalog, LoginFailures, TokenRecord
from tagscope.store.retry import retrying

TOKEN_PREFIX = "tsk_"
WRONG_CREDENTIALS = "wrong user name or password"
_TOUCH_EVERY = timedelta(minutes=1)  # the most often a token's last use is written
_SCOPES = list(Scope)  # narrowest first
_HASHER = PasswordHash.recommended()  # Argon2id
# Token digest -> time.monotonic() of its last write of last_used_at in this process.
_touched: dict[str, float] = {}


@dataclass(frozen=True)
class LockoutPolicy:
    """After ``max_failures`` failed logins of one account or from one address (each less than
    ``window_s`` after the one before), logins there are refused for ``base_delay_s``, doubled
    with each lock-out in a row, at most ``max_delay_s``. A success, or ``window_s`` of quiet
    after the last failure (or lock-out), starts afresh."""

    max_failures: int = 5
    base_delay_s: float = 30.0
    max_delay_s: float = 3600.0
    window_s: float = 900.0


@dataclass(frozen=True)
class AuthSettings:
    session_ttl: timedelta = timedelta(hours=12)
    lockout: LockoutPolicy = LockoutPolicy()


# -- users --------------------------------------------------------------------------------------


def has_admin(ws: Workspace) -> bool:
    """Whether an enabled user has the workspace-wide role admin (someone can manage users)."""
    return bool(AccountCatalog(ws.catalog).enabled_admins())


def add_user(ws: Workspace, name: str, password: str, role: str | None = "viewer") -> User:
    """A new account; ``role`` is its workspace-wide role (None: none, only roles per dataset).

    Raises
    ------
    ValidationError
        A bad name, a password too short, an unknown role.
    AlreadyExistsError
        The name is taken.
    """
    policy.workspace(ws, Action.USERS_MANAGE)
    validate_user_name(name)
    validate_password(password)
    parsed = parse_role(role) if role is not None else None
    return AccountCatalog(ws.catalog).add_user(name, _HASHER.hash(password), parsed)


def list_users(ws: Workspace) -> list[User]:
    """Every user by name, with its roles per dataset (by dataset name)."""
    policy.workspace(ws, Action.USERS_MANAGE)
    return AccountCatalog(ws.catalog).list_users()


def get_user(ws: Workspace, name: str) -> User:
    policy.workspace(ws, Action.USERS_MANAGE)
    return AccountCatalog(ws.catalog).get_user(name)


@retrying
def set_role(ws: Workspace, name: str, role: str | None, dataset: str | None = None) -> User:
    """Set a user's workspace-wide role (``dataset`` None; ``role`` None: none), or its role on
    one dataset, which overrides it there (``role`` None removes it).

    Raises
    ------
    ValidationError
        An unknown role; demoting the last enabled workspace admin.
    NotFoundError
        No such user or dataset.
    """
    policy.workspace(ws, Action.USERS_MANAGE)
    parsed = parse_role(role) if role is not None else None
    accounts = AccountCatalog(ws.catalog)
    with ws.uow():
        user = accounts.get_user(name)
        if dataset is None:
            if parsed is not Role.ADMIN and user.role is Role.ADMIN and not user.disabled:
                _keep_an_admin(accounts, name, "given another role", "role")
            accounts.set_role(user.id, parsed)
        else:
            accounts.set_dataset_role(user.id, ws.dataset(dataset).id, parsed)
        return accounts.get_user(name)


@retrying
def disable_user(ws: Workspace, name: str, disabled: bool = True) -> User:
    """Disable a user (its sessions end, its tokens are refused, it cannot log in) or enable
    it again (``disabled=False``). The last enabled workspace admin cannot be disabled."""
    policy.workspace(ws, Action.USERS_MANAGE)
    accounts = AccountCatalog(ws.catalog)
    with ws.uow():
        user = accounts.get_user(name)
        if disabled and user.role is Role.ADMIN and not user.disabled:
            _keep_an_admin(accounts, name, "disabled", "disabled")
        accounts.set_disabled(user.id, disabled)
        return accounts.get_user(name)


def reset_password(ws: Workspace, name: str, password: str) -> None:
    """Give a user a new password; its sessions end (its tokens go on)."""
    policy.workspace(ws, Action.USERS_MANAGE)
    validate_password(password)
    accounts = AccountCatalog(ws.catalog)
    user = accounts.get_user(name)
    accounts.set_password(user.id, _HASHER.hash(password))


def _keep_an_admin(accounts: AccountCatalog, name: str, what: str, field: str) -> None:
    """Refuse to remove the last enabled workspace admin: there must always be a way back in."""
    if accounts.enabled_admins() == [name]:
        raise ValidationError(
            f"{name} is the last enabled workspace admin and cannot be {what}: make another "
            "user admin first (someone must be able to manage users)",
            field=field,
        )


# -- API tokens ---------------------------------------------------------------------------------


def create_token(
    ws: Workspace,
    user: str,
    name: str,
    *,
    expires_in: timedelta | None = None,
    scope: str = "write",
    dataset: str | None = None,
) -> tuple[ApiToken, str]:
    """A new API token of ``user``: (the token as listed, its secret, shown this once).

    ``expires_in`` None: it never expires. ``scope`` caps what it may do, ``dataset`` (a name)
    the one dataset it reaches; neither can give more than the user has: a viewer's token is
    read-only, scope admin needs a workspace admin (or an admin of ``dataset``), and the user
    must have a role on ``dataset``.

    Raises
    ------
    PermissionDeniedError
        The caller is neither the user (signed in) nor allowed users.manage.
    ValidationError
        A bad token name, a scope or dataset beyond the user's roles, an expiry not ahead.
    AlreadyExistsError
        The user has a token of that name.
    """
    account = _account_of(ws, user)
    _validate_token_name(name)
    wanted = parse_scope(scope)
    if expires_in is not None and expires_in <= timedelta(0):
        raise ValidationError("a token's expiry must be ahead (or none)", field="expires")
    if account.disabled:
        raise ValidationError(f"account {account.name} is disabled", field="user")
    dataset_id = _token_dataset(ws, account, dataset)
    _check_scope(account, wanted, dataset, dataset_id)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = _now() + expires_in if expires_in is not None else None
    token = AccountCatalog(ws.catalog).add_token(
        account.id, name, _digest(secret), wanted, dataset_id, expires_at
    )
    return token, secret


def list_tokens(ws: Workspace, user: str | None = None) -> list[ApiToken]:
    """The tokens of ``user`` (or of everyone: users.manage), by user and name; never their
    secrets."""
    if user is None:
        policy.workspace(ws, Action.USERS_MANAGE)
        return AccountCatalog(ws.catalog).list_tokens()
    return AccountCatalog(ws.catalog).list_tokens(_account_of(ws, user).id)


def revoke_token(ws: Workspace, user: str, name: str) -> ApiToken:
    """Revoke a token of ``user`` for good (it stays listed, with the time)."""
    account = _account_of(ws, user)
    return AccountCatalog(ws.catalog).revoke_token(account.id, name, _now())


def identity_for_token(ws: Workspace, secret: str) -> Identity:
    """Who a token's secret (``tsk_...``) speaks for, capped by its scope and dataset.

    It runs on every API request: two indexed lookups, and a write of the token's last use at
    most once a minute.

    Raises
    ------
    AuthenticationError
        An unknown, expired or revoked token, or a disabled user (never with the secret).
    """
    if not secret.startswith(TOKEN_PREFIX):
        raise AuthenticationError(f"unknown token (Tagscope tokens start with {TOKEN_PREFIX})")
    digest = _digest(secret)
    accounts = AccountCatalog(ws.catalog)
    found = accounts.token_by_digest(digest)
    if found is None:
        raise AuthenticationError("unknown token")
    token, account = found
    now = _now()
    what = f"the token {token.name!r} of {account.name}"
    if token.revoked_at is not None:
        raise AuthenticationError(f"{what} was revoked on {_when(token.revoked_at)}")
    if token.expires_at is not None and token.expires_at <= now:
        raise AuthenticationError(f"{what} has expired on {_when(token.expires_at)}")
    if account.disabled:
        raise AuthenticationError(f"account {account.name} is disabled")
    _touch(accounts, token, digest, now)
    return _identity(account, token.scope, token.dataset_id, token.id)


def _account_of(ws: Workspace, user: str) -> Account:
    """The account ``user``, once the caller may manage its tokens (asked first: no one learns
    which names exist from a refusal)."""
    account = AccountCatalog(ws.catalog).account(user)
    policy.account(ws, account.id if account is not None else -1)
    if account is None:
        raise NotFoundError(f"no user named {user!r}")
    return account


def _validate_token_name(name: str) -> None:
    try:
        validate_user_name(name)  # the same alphabet and length
    except ValidationError:
        raise ValidationError(
            f"invalid token name {name!r}: 1 to 64 ASCII letters, digits, '.', '_', '-' or '@'",
            field="name",
        ) from None


def _token_dataset(ws: Workspace, account: Account, dataset: str | None) -> int | None:
    if dataset is None:
        return None
    try:
        dataset_id = ws.dataset(dataset).id
    except NotFoundError:
        dataset_id = None
    if dataset_id is None or policy.role_on(_identity(account), dataset_id) is None:
        # One answer whether the dataset is missing or out of reach: none of it is visible.
        raise ValidationError(
            f"{account.name} has no role on a dataset named {dataset!r}: its token cannot reach it",
            field="dataset",
        )
    return dataset_id


def _check_scope(
    account: Account, wanted: Scope, dataset: str | None, dataset_id: int | None
) -> None:
    widest = policy.widest_scope(_identity(account), dataset_id)
    if widest is None:
        raise ValidationError(
            f"{account.name} has no role: a token of it could do nothing (give it a role)",
            field="scope",
        )
    if _SCOPES.index(wanted) <= _SCOPES.index(widest):
        return
    where = f" on dataset {dataset!r}" if dataset is not None else ""
    why = {
        Scope.READ: "a viewer may only read",
        Scope.WRITE: "scope admin needs an admin"
        + (" of the dataset" if dataset is not None else " of the workspace"),
    }[widest]
    raise ValidationError(
        f"a token of {account.name} may have scope {widest.value} at most{where}, not "
        f"{wanted.value}: {why}",
        field="scope",
    )


def _touch(accounts: AccountCatalog, token: TokenRecord, digest: str, now: datetime) -> None:
    """Write the token's last use, at most once a minute (in this process, and across
    processes by the condition of the UPDATE)."""
    if token.last_used_at is not None and now - token.last_used_at < _TOUCH_EVERY:
        return
    clock = time.monotonic()
    last = _touched.get(digest)
    if last is not None and clock - last < _TOUCH_EVERY.total_seconds():
        return
    _touched[digest] = clock
    accounts.touch_token(token.id, now, now - _TOUCH_EVERY)


# -- sessions and logins ------------------------------------------------------------------------


@retrying
def login(
    ws: Workspace,
    name: str,
    password: str,
    *,
    address: str | None,
    settings: AuthSettings = AuthSettings(),  # frozen: one shared value is safe
) -> tuple[Identity, str]:
    """Check a user name and password; (the identity, a new session's secret).

    Each attempt counts against the account's key (``user:NAME``, whether it exists or not) and
    the address's (``addr:IP``) before the password is checked, so parallel guesses count too;
    a success clears both.

    Raises
    ------
    LockedOutError
        Too many failures of the account or from the address: refused without checking the
        password (``retry_after_s`` says for how long).
    AuthenticationError
        A wrong name or password (one message for both), or a disabled account.
    """
    keys = [f"user:{name[:120]}"] + ([f"addr:{address[:64]}"] if address else [])
    now = _now()
    accounts = AccountCatalog(ws.catalog)
    _count_attempt(ws, accounts, keys, now, settings.lockout)
    account = accounts.account(name)
    ok, new_hash = _HASHER.verify_and_update(
        password, account.password_hash if account is not None else _dummy_hash()
    )
    if account is None or not ok:
        raise AuthenticationError(WRONG_CREDENTIALS)
    secret = secrets.token_urlsafe(32)
    now = _now()  # the session's time runs from now, not from before the (slow) hash check
    with ws.uow():
        accounts.clear_login_failures(keys)  # the right password: the failures were not
        if new_hash is not None:  # hashed with older parameters: upgraded, sessions kept
            accounts.set_password(account.id, new_hash, end_sessions=False)
        if not account.disabled:
            accounts.delete_expired_sessions(now)
            accounts.add_session(_digest(secret), account.id, now + settings.session_ttl, address)
    if account.disabled:
        raise AuthenticationError(f"account {account.name} is disabled")
    return _identity(account), secret


def identity_for_session(ws: Workspace, secret: str) -> Identity:
    """Who a session's secret (the cookie) is.

    Raises
    ------
    AuthenticationError
        No such session (logged out), an expired one, a disabled user, or a password changed
        since the session began.
    """
    found = AccountCatalog(ws.catalog).session_by_digest(_digest(secret))
    if found is None:
        raise AuthenticationError("no such session (logged out?): log in again")
    session, account = found
    if session.expires_at <= _now():
        raise AuthenticationError("the session has expired: log in again")
    if account.disabled:
        raise AuthenticationError(f"account {account.name} is disabled")
    if session.created_at < account.password_changed_at:
        raise AuthenticationError("the session ended when the password changed: log in again")
    return _identity(account)


def logout(ws: Workspace, secret: str) -> None:
    """End the session (nothing happens when there is none)."""
    AccountCatalog(ws.catalog).delete_session(_digest(secret))


def csrf_token(session_secret: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 of ``"csrf"`` keyed by its secret, hex (a page
    reads it from ``/api/auth/me``; another site can neither read it nor compute it)."""
    return hmac.new(session_secret.encode(), b"csrf", hashlib.sha256).hexdigest()


@retrying
def _count_attempt(
    ws: Workspace, accounts: AccountCatalog, keys: list[str], now: datetime, rules: LockoutPolicy
) -> None:
    """Refuse the attempt if one of ``keys`` is locked out, else count it as a failure (undone
    by a success), locking the keys that reach ``rules.max_failures``."""
    with ws.uow():
        records = {r.key: r for r in accounts.login_failures(keys)}
        locked = [
            r.locked_until for r in records.values() if r.locked_until and r.locked_until > now
        ]
        if locked:
            wait = (max(locked) - now).total_seconds()
            raise LockedOutError(
                f"too many failed logins: try again in {max(1, round(wait))} s",
                retry_after_s=wait,
            )
        for key in keys:
            accounts.save_login_failures(_counted(records.get(key), key, now, rules))


def _counted(
    record: LoginFailures | None, key: str, now: datetime, rules: LockoutPolicy
) -> LoginFailures:
    if record is None:
        record = LoginFailures(key, 0, now, None, 0)
    quiet_since = max(record.last_failure_at, record.locked_until or record.last_failure_at)
    if (now - quiet_since).total_seconds() > rules.window_s:
        record = replace(record, failures=0, lockouts=0)
    failures = record.failures + 1
    if failures < rules.max_failures:
        return replace(record, failures=failures, last_failure_at=now)
    delay = min(rules.base_delay_s * 2**record.lockouts, rules.max_delay_s)
    return LoginFailures(key, 0, now, now + timedelta(seconds=delay), record.lockouts + 1)


# -- shared -------------------------------------------------------------------------------------


def _identity(
    account: Account,
    scope: Scope = Scope.ADMIN,
    token_dataset: int | None = None,
    token_id: int | None = None,
) -> Identity:
    return Identity(
        name=account.name,
        role=account.role,
        dataset_roles=account.dataset_roles,
        scope=scope,
        token_dataset=token_dataset,
        user_id=account.id,
        token_id=token_id,
    )


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the name is unknown: the answer takes as long."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _when(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


__all__ = [
    "TOKEN_PREFIX",
    "AuthSettings",
    "LockoutPolicy",
    "add_user",
    "create_token",
    "csrf_token",
    "disable_user",
    "get_user",
    "has_admin",
    "identity_for_session",
    "identity_for_token",
    "list_tokens",
    "list_users",
    "login",
    "logout",
    "reset_password",
    "revoke_token",
    "set_role",
]
