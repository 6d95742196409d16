"""Accounts on a real workspace: hashing, logins and lock-outs, sessions, tokens and their caps,
and who may manage them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagscope.domain import (
    AuthenticationError,
    LockedOutError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from tagscope.domain.access import Role, Scope
from tagscope.service import Workspace
from tagscope.service import accounts as acc
from tagscope.service.accounts import AuthSettings, LockoutPolicy
from tagscope.service.policy import Action, allows
from tagscope.store.accounts import AccountCatalog

PASSWORD = "correct-horse-battery"


def _fast(max_failures: int = 3, base: float = 0.2, cap: float = 10.0) -> AuthSettings:
    return AuthSettings(lockout=LockoutPolicy(max_failures, base, cap, window_s=60.0))


def _fail(ws: Workspace, name: str, settings: AuthSettings, address: str | None = None) -> None:
    with pytest.raises(AuthenticationError, match=r"^wrong user name or password$"):
        acc.login(ws, name, "not-the-password", address=address, settings=settings)


def test_password_is_an_argon2id_hash_and_no_secret_is_in_the_catalog_files(
    workspace: Workspace,
) -> None:
    acc.add_user(workspace, "alice", PASSWORD, role="admin")
    _, session = acc.login(workspace, "alice", PASSWORD, address="127.0.0.1")
    _, token = acc.create_token(workspace, "alice", "ci")
    account = AccountCatalog(workspace.catalog).account("alice")
    assert account is not None and account.password_hash.startswith("$argon2id$")
    workspace.catalog.engine.dispose()  # whatever is in the WAL, the files hold
    blob = b"".join(p.read_bytes() for p in Path(workspace.paths.root).rglob("*") if p.is_file())
    assert b"$argon2id$" in blob  # the files read are the catalog's
    for secret in (PASSWORD, session, token):
        assert secret.encode() not in blob


def test_wrong_password_and_unknown_user_get_the_same_answer(workspace: Workspace) -> None:
    acc.add_user(workspace, "alice", PASSWORD)
    answers = []
    for name, password in (("alice", "wrong-password"), ("nobody", PASSWORD)):
        with pytest.raises(AuthenticationError) as err:
            acc.login(workspace, name, password, address=None)
        answers.append(str(err.value))
    assert answers == ["wrong user name or password"] * 2


def test_lock_out_after_failures_refuses_even_the_right_password_until_it_expires(
    workspace: Workspace,
) -> None:
    settings = _fast(max_failures=3, base=1.5)  # longer than a hash check on a busy machine
    acc.add_user(workspace, "alice", PASSWORD)
    for _ in range(3):
        _fail(workspace, "alice", settings)
    with pytest.raises(LockedOutError, match="too many failed logins") as err:
        acc.login(workspace, "alice", PASSWORD, address=None, settings=settings)
    assert 0 < err.value.retry_after_s <= 1.5
    time.sleep(err.value.retry_after_s + 0.05)
    identity, _ = acc.login(workspace, "alice", PASSWORD, address=None, settings=settings)
    assert identity.name == "alice"
    # The success cleared the failures: two more are not a lock-out.
    for _ in range(2):
        _fail(workspace, "alice", settings)
    acc.login(workspace, "alice", PASSWORD, address=None, settings=settings)


def test_the_delay_doubles_with_each_lock_out_in_a_row_up_to_the_cap(
    workspace: Workspace,
) -> None:
    settings = _fast(max_failures=2, base=0.2, cap=0.5)
    acc.add_user(workspace, "alice", PASSWORD)
    accounts = AccountCatalog(workspace.catalog)
    delays = []
    for _ in range(3):
        for _ in range(2):
            _fail(workspace, "alice", settings)
        (record,) = accounts.login_failures(["user:alice"])
        delays.append((record.locked_until - record.last_failure_at).total_seconds())
        time.sleep(max(0.0, (record.locked_until - datetime.now(UTC)).total_seconds()) + 0.05)
    assert delays == pytest.approx([0.2, 0.4, 0.5], abs=0.002)
    acc.login(workspace, "alice", PASSWORD, address=None, settings=settings)
    assert accounts.login_failures(["user:alice"]) == []


def test_an_address_is_locked_out_across_account_names(workspace: Workspace) -> None:
    settings = _fast(max_failures=3, base=5.0)
    acc.add_user(workspace, "alice", PASSWORD)
    for name in ("bob", "carol", "alice"):  # names that exist or not count alike
        _fail(workspace, name, settings, address="10.0.0.9")
    with pytest.raises(LockedOutError):
        acc.login(workspace, "alice", PASSWORD, address="10.0.0.9", settings=settings)
    identity, _ = acc.login(workspace, "alice", PASSWORD, address="10.0.0.10", settings=settings)
    assert identity.name == "alice"


def test_an_unknown_name_is_locked_out_like_an_account(workspace: Workspace) -> None:
    settings = _fast(max_failures=2, base=5.0)
    for address in ("10.0.0.1", "10.0.0.2"):
        _fail(workspace, "ghost", settings, address=address)
    with pytest.raises(LockedOutError):
        acc.login(workspace, "ghost", PASSWORD, address="10.0.0.3", settings=settings)


def test_sessions_log_out_expire_and_have_a_csrf_token(workspace: Workspace) -> None:
    acc.add_user(workspace, "alice", PASSWORD, role="editor")
    identity, secret = acc.login(workspace, "alice", PASSWORD, address="127.0.0.1")
    assert (identity.name, identity.role, identity.scope) == ("alice", Role.EDITOR, Scope.ADMIN)
    assert identity.user_id is not None and identity.token_id is None
    assert acc.identity_for_session(workspace, secret) == identity
    csrf = acc.csrf_token(secret)
    assert len(csrf) == 64 and csrf == acc.csrf_token(secret) != acc.csrf_token(secret + "x")
    acc.logout(workspace, secret)
    with pytest.raises(AuthenticationError, match="log in again"):
        acc.identity_for_session(workspace, secret)

    short = AuthSettings(session_ttl=timedelta(seconds=0.5))
    _, secret = acc.login(workspace, "alice", PASSWORD, address=None, settings=short)
    acc.identity_for_session(workspace, secret)
    time.sleep(0.55)
    with pytest.raises(AuthenticationError, match="the session has expired"):
        acc.identity_for_session(workspace, secret)


def test_reset_password_ends_the_sessions(workspace: Workspace) -> None:
    acc.add_user(workspace, "alice", PASSWORD)
    _, session = acc.login(workspace, "alice", PASSWORD, address=None)
    _, token = acc.create_token(workspace, "alice", "ci", scope="read")
    acc.reset_password(workspace, "alice", "a-new-password")
    with pytest.raises(AuthenticationError):
        acc.identity_for_session(workspace, session)
    _fail(workspace, "alice", AuthSettings())  # the old password
    acc.login(workspace, "alice", "a-new-password", address=None)
    assert acc.identity_for_token(workspace, token).name == "alice"  # tokens go on
    with pytest.raises(ValidationError, match="too short"):
        acc.reset_password(workspace, "alice", "short")


def test_a_disabled_user_cannot_log_in_nor_use_its_tokens(workspace: Workspace) -> None:
    acc.add_user(workspace, "alice", PASSWORD, role="admin")
    acc.add_user(workspace, "bob", PASSWORD, role="editor")
    _, session = acc.login(workspace, "bob", PASSWORD, address=None)
    _, token = acc.create_token(workspace, "bob", "ci")
    assert acc.disable_user(workspace, "bob").disabled
    for check in (acc.identity_for_token, acc.identity_for_session):
        with pytest.raises(AuthenticationError, match=r"account bob is disabled|log in again"):
            check(workspace, token if check is acc.identity_for_token else session)
    with pytest.raises(AuthenticationError, match=r"^account bob is disabled$"):
        acc.login(workspace, "bob", PASSWORD, address=None)
    with pytest.raises(ValidationError, match="account bob is disabled"):
        acc.create_token(workspace, "bob", "ci2")
    assert not acc.disable_user(workspace, "bob", disabled=False).disabled
    assert acc.identity_for_token(workspace, token).name == "bob"
    acc.login(workspace, "bob", PASSWORD, address=None)


def test_the_last_enabled_admin_cannot_be_demoted_nor_disabled(workspace: Workspace) -> None:
    assert not acc.has_admin(workspace)
    acc.add_user(workspace, "alice", PASSWORD, role="admin")
    assert acc.has_admin(workspace)
    with pytest.raises(ValidationError, match="alice is the last enabled workspace admin"):
        acc.set_role(workspace, "alice", "editor")
    with pytest.raises(ValidationError, match="last enabled workspace admin"):
        acc.set_role(workspace, "alice", None)
    with pytest.raises(ValidationError, match="cannot be disabled"):
        acc.disable_user(workspace, "alice")
    acc.add_user(workspace, "bob", PASSWORD, role="admin")
    acc.disable_user(workspace, "bob")
    with pytest.raises(ValidationError):  # a disabled admin is no way back in
        acc.disable_user(workspace, "alice")
    acc.disable_user(workspace, "bob", disabled=False)
    assert acc.set_role(workspace, "alice", "editor").role is Role.EDITOR
    with pytest.raises(ValidationError, match="bob is the last"):
        acc.disable_user(workspace, "bob")
    assert acc.set_role(workspace, "alice", "admin").role is Role.ADMIN  # promoting is fine


def test_roles_per_dataset_override_and_can_be_removed(workspace: Workspace) -> None:
    birds = workspace.catalog.create_dataset("birds")
    workspace.catalog.create_dataset("cats")
    acc.add_user(workspace, "bob", PASSWORD, role=None)
    assert acc.get_user(workspace, "bob").role is None
    acc.set_role(workspace, "bob", "editor", dataset="birds")
    user = acc.set_role(workspace, "bob", "viewer", dataset="cats")
    assert dict(user.dataset_roles) == {"birds": Role.EDITOR, "cats": Role.VIEWER}
    identity, _ = acc.login(workspace, "bob", PASSWORD, address=None)
    assert identity.role is None and identity.dataset_roles[birds.id] is Role.EDITOR
    assert allows(identity, Action.TAGS_EDIT, birds.id)
    user = acc.set_role(workspace, "bob", None, dataset="cats")
    assert dict(user.dataset_roles) == {"birds": Role.EDITOR}
    assert [u.name for u in acc.list_users(workspace)] == ["bob"]
    with pytest.raises(NotFoundError, match="no dataset named 'dogs'"):
        acc.set_role(workspace, "bob", "viewer", dataset="dogs")
    with pytest.raises(ValidationError, match="unknown role 'boss'"):
        acc.set_role(workspace, "bob", "boss")


def test_a_token_never_has_more_rights_than_its_user(workspace: Workspace) -> None:
    workspace.catalog.create_dataset("pub")
    workspace.catalog.create_dataset("secret")
    acc.add_user(workspace, "alice", PASSWORD, role="admin")
    acc.add_user(workspace, "vic", PASSWORD, role="viewer")
    acc.add_user(workspace, "ed", PASSWORD, role="editor")
    acc.add_user(workspace, "dan", PASSWORD, role=None)
    acc.set_role(workspace, "dan", "admin", dataset="pub")
    acc.add_user(workspace, "nora", PASSWORD, role=None)

    with pytest.raises(ValidationError, match="scope read at most, not write: a viewer may only"):
        acc.create_token(workspace, "vic", "t")
    assert acc.create_token(workspace, "vic", "t", scope="read")[0].scope is Scope.READ
    with pytest.raises(ValidationError, match="needs an admin of the workspace"):
        acc.create_token(workspace, "ed", "t", scope="admin")
    assert acc.create_token(workspace, "alice", "t", scope="admin")[0].scope is Scope.ADMIN
    # An admin of one dataset: scope admin there only.
    assert acc.create_token(workspace, "dan", "t", scope="admin", dataset="pub")[0].dataset == (
        "pub"
    )
    with pytest.raises(ValidationError, match="scope write at most, not admin"):
        acc.create_token(workspace, "dan", "t2", scope="admin")
    # A dataset the user has no role on, or none at all: the same refusal.
    for dataset in ("secret", "missing"):
        with pytest.raises(
            ValidationError, match=f"dan has no role on a dataset named '{dataset}'"
        ):
            acc.create_token(workspace, "dan", "t3", scope="read", dataset=dataset)
    with pytest.raises(ValidationError, match="nora has no role"):
        acc.create_token(workspace, "nora", "t", scope="read")
    with pytest.raises(ValidationError, match="unknown scope 'all'"):
        acc.create_token(workspace, "ed", "t", scope="all")


def test_a_token_speaks_for_its_user_within_its_scope_and_dataset(workspace: Workspace) -> None:
    pub = workspace.catalog.create_dataset("pub")
    other = workspace.catalog.create_dataset("other")
    acc.add_user(workspace, "ed", PASSWORD, role="editor")
    token, secret = acc.create_token(workspace, "ed", "ci", scope="read", dataset="pub")
    assert secret.startswith("tsk_") and len(secret) > 40
    identity = acc.identity_for_token(workspace, secret)
    assert (identity.name, identity.role, identity.scope) == ("ed", Role.EDITOR, Scope.READ)
    assert (identity.token_dataset, identity.token_id) == (pub.id, token.id)
    assert allows(identity, Action.READ, pub.id)
    assert not allows(identity, Action.TAGS_EDIT, pub.id)  # the scope
    assert not allows(identity, Action.READ, other.id)  # the dataset
    for bad, message in ((secret + "x", "^unknown token$"), ("abc", "start with tsk_")):
        with pytest.raises(AuthenticationError, match=message) as err:
            acc.identity_for_token(workspace, bad)
        assert secret not in str(err.value)


def test_last_used_at_is_written_at_most_once_a_minute(workspace: Workspace) -> None:
    acc.add_user(workspace, "ed", PASSWORD, role="editor")
    _, secret = acc.create_token(workspace, "ed", "ci")
    assert acc.list_tokens(workspace, "ed")[0].last_used_at is None
    acc.identity_for_token(workspace, secret)
    first = acc.list_tokens(workspace, "ed")[0].last_used_at
    assert first is not None
    time.sleep(0.01)
    acc.identity_for_token(workspace, secret)
    assert acc.list_tokens(workspace, "ed")[0].last_used_at == first


def test_expired_and_revoked_tokens_are_refused(workspace: Workspace) -> None:
    acc.add_user(workspace, "ed", PASSWORD, role="editor")
    with pytest.raises(ValidationError, match="expiry must be ahead"):
        acc.create_token(workspace, "ed", "old", expires_in=timedelta(seconds=-1))
    _, short = acc.create_token(workspace, "ed", "short", expires_in=timedelta(seconds=0.3))
    acc.identity_for_token(workspace, short)
    time.sleep(0.35)
    with pytest.raises(AuthenticationError, match="the token 'short' of ed has expired on 20"):
        acc.identity_for_token(workspace, short)

    _, secret = acc.create_token(workspace, "ed", "ci")  # never expires
    assert acc.list_tokens(workspace, "ed")[0].expires_at is None
    revoked = acc.revoke_token(workspace, "ed", "ci")
    assert revoked.revoked_at is not None
    with pytest.raises(AuthenticationError, match="the token 'ci' of ed was revoked on") as err:
        acc.identity_for_token(workspace, secret)
    assert secret not in str(err.value)
    with pytest.raises(NotFoundError):
        acc.revoke_token(workspace, "ed", "nope")
    assert [t.name for t in acc.list_tokens(workspace)] == ["ci", "short"]


def test_managing_users_needs_an_admin_and_tokens_their_own_user(workspace: Workspace) -> None:
    acc.add_user(workspace, "alice", PASSWORD, role="admin")
    acc.add_user(workspace, "ed", PASSWORD, role="editor")
    ed, _ = acc.login(workspace, "ed", PASSWORD, address=None)
    as_ed = workspace.acting_as(ed)
    for use_case in (
        lambda: acc.add_user(as_ed, "mallory", PASSWORD, role="admin"),
        lambda: acc.list_users(as_ed),
        lambda: acc.set_role(as_ed, "ed", "admin"),
        lambda: acc.reset_password(as_ed, "alice", "taken-over!"),
        lambda: acc.disable_user(as_ed, "alice"),
        lambda: acc.list_tokens(as_ed),
        lambda: acc.create_token(as_ed, "alice", "mine"),
        lambda: acc.create_token(as_ed, "nobody", "mine"),  # 403, not "no such user"
    ):
        with pytest.raises(PermissionDeniedError, match="ed"):
            use_case()
    # Signed in, a user makes, lists and revokes its own tokens.
    _, secret = acc.create_token(as_ed, "ed", "laptop")
    assert [t.name for t in acc.list_tokens(as_ed, "ed")] == ["laptop"]
    # A token cannot make a wider one.
    as_token = workspace.acting_as(acc.identity_for_token(workspace, secret))
    with pytest.raises(PermissionDeniedError, match="needs a session or a token of scope admin"):
        acc.create_token(as_token, "ed", "wider")
    acc.revoke_token(as_ed, "ed", "laptop")
    # A workspace admin, signed in, manages everyone.
    alice, _ = acc.login(workspace, "alice", PASSWORD, address=None)
    as_alice = workspace.acting_as(alice)
    acc.add_user(as_alice, "carol", PASSWORD)
    acc.create_token(as_alice, "carol", "ci", scope="read")
    assert [u.name for u in acc.list_users(as_alice)] == ["alice", "carol", "ed"]


def test_bad_names_and_passwords_are_refused(workspace: Workspace) -> None:
    with pytest.raises(ValidationError, match="invalid user name"):
        acc.add_user(workspace, "a b", PASSWORD)
    with pytest.raises(ValidationError, match="too short"):
        acc.add_user(workspace, "bob", "short")
    acc.add_user(workspace, "bob", PASSWORD, role="editor")
    with pytest.raises(ValidationError, match="invalid token name"):
        acc.create_token(workspace, "bob", "with space")
    acc.create_token(workspace, "bob", "ci")
    with pytest.raises(Exception, match="already has a token named 'ci'"):
        acc.create_token(workspace, "bob", "ci")
