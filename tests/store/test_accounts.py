"""The accounts repository on SQLite and PostgreSQL: users, roles per dataset, tokens, sessions,
failed logins, and what deleting a dataset or a user removes with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tagscope.domain import AlreadyExistsError, NotFoundError
from tagscope.domain.access import Role, Scope
from tagscope.store import Catalog
from tagscope.store.accounts import AccountCatalog, LoginFailures


@pytest.fixture()
def catalog(database_url: str) -> Catalog:
    return Catalog.connect(database_url)


def _now() -> datetime:
    return datetime.now(UTC)


def test_users_and_their_dataset_roles(catalog: Catalog) -> None:
    accounts = AccountCatalog(catalog)
    ds = catalog.create_dataset("birds")
    bob = accounts.add_user("bob", "$argon2id$fake", None)
    accounts.add_user("alice", "$argon2id$fake", Role.ADMIN)
    with pytest.raises(AlreadyExistsError, match="user 'bob' already exists"):
        accounts.add_user("bob", "x", Role.VIEWER)
    accounts.set_dataset_role(bob.id, ds.id, Role.EDITOR)
    accounts.set_dataset_role(bob.id, ds.id, Role.REVIEWER)  # an update, not a second row
    users = accounts.list_users()
    assert [(u.name, u.role, dict(u.dataset_roles)) for u in users] == [
        ("alice", Role.ADMIN, {}),
        ("bob", None, {"birds": Role.REVIEWER}),
    ]
    account = accounts.account("bob")
    assert account is not None and dict(account.dataset_roles) == {ds.id: Role.REVIEWER}
    assert account.password_hash == "$argon2id$fake"
    assert accounts.account("carol") is None
    with pytest.raises(NotFoundError, match="no user named 'carol'"):
        accounts.get_user("carol")
    accounts.set_dataset_role(bob.id, ds.id, None)
    assert dict(accounts.get_user("bob").dataset_roles) == {}


def test_enabled_admins_leave_out_disabled_ones(catalog: Catalog) -> None:
    accounts = AccountCatalog(catalog)
    a = accounts.add_user("a", "h", Role.ADMIN)
    accounts.add_user("b", "h", Role.ADMIN)
    accounts.add_user("c", "h", Role.EDITOR)
    assert accounts.enabled_admins() == ["a", "b"]
    accounts.set_disabled(a.id, True)
    assert accounts.enabled_admins() == ["b"]
    assert accounts.get_user("a").disabled


def test_tokens_listed_found_by_digest_touched_and_revoked(catalog: Catalog) -> None:
    accounts = AccountCatalog(catalog)
    ds = catalog.create_dataset("birds")
    bob = accounts.add_user("bob", "h", Role.EDITOR)
    expires = _now() + timedelta(days=1)
    made = accounts.add_token(bob.id, "ci", "d" * 64, Scope.READ, ds.id, expires)
    assert (made.user, made.name, made.scope, made.dataset) == ("bob", "ci", Scope.READ, "birds")
    with pytest.raises(AlreadyExistsError, match="token named 'ci'"):
        accounts.add_token(bob.id, "ci", "e" * 64, Scope.READ, None, None)
    token, account = accounts.token_by_digest("d" * 64)
    assert (token.name, token.dataset_id, account.name) == ("ci", ds.id, "bob")
    assert abs(token.expires_at - expires) < timedelta(seconds=1)
    assert accounts.token_by_digest("f" * 64) is None

    now = _now()
    assert accounts.touch_token(token.id, now, now - timedelta(minutes=1))
    # Used less than a minute ago: the conditional UPDATE writes nothing.
    assert not accounts.touch_token(token.id, now + timedelta(seconds=5), now - timedelta(1))
    listed = accounts.list_tokens(bob.id)
    assert abs(listed[0].last_used_at - now) < timedelta(seconds=1)

    revoked = accounts.revoke_token(bob.id, "ci", now)
    assert revoked.revoked_at is not None
    again = accounts.revoke_token(bob.id, "ci", now + timedelta(hours=1))
    assert again.revoked_at == revoked.revoked_at  # the first revocation's time stays
    with pytest.raises(NotFoundError, match="no token named 'cd'"):
        accounts.revoke_token(bob.id, "cd", now)


def test_deleting_a_dataset_removes_its_roles_and_tokens(catalog: Catalog) -> None:
    """The foreign keys CASCADE, on SQLite too (the engine turns foreign keys on)."""
    accounts = AccountCatalog(catalog)
    ds = catalog.create_dataset("birds")
    other = catalog.create_dataset("cats")
    bob = accounts.add_user("bob", "h", None)
    accounts.set_dataset_role(bob.id, ds.id, Role.EDITOR)
    accounts.set_dataset_role(bob.id, other.id, Role.VIEWER)
    accounts.add_token(bob.id, "birds-only", "a" * 64, Scope.WRITE, ds.id, None)
    accounts.add_token(bob.id, "all", "b" * 64, Scope.WRITE, None, None)
    accounts.add_session("1" * 64, bob.id, _now() + timedelta(hours=1), None)
    both = {ds.id: Role.EDITOR, other.id: Role.VIEWER}
    assert dict(accounts.token_by_digest("b" * 64)[1].dataset_roles) == both
    assert dict(accounts.session_by_digest("1" * 64)[1].dataset_roles) == both
    catalog.delete_dataset(ds.id)
    assert dict(accounts.token_by_digest("b" * 64)[1].dataset_roles) == {other.id: Role.VIEWER}
    assert dict(accounts.get_user("bob").dataset_roles) == {"cats": Role.VIEWER}
    assert [t.name for t in accounts.list_tokens()] == ["all"]
    assert accounts.token_by_digest("a" * 64) is None
    # A new dataset of the same name is not reached by the old token nor the old role.
    catalog.create_dataset("birds")
    assert dict(accounts.get_user("bob").dataset_roles) == {"cats": Role.VIEWER}


def test_sessions_end_with_a_password_reset_or_a_disable(catalog: Catalog) -> None:
    accounts = AccountCatalog(catalog)
    bob = accounts.add_user("bob", "h", Role.VIEWER)
    later = _now() + timedelta(hours=1)
    accounts.add_session("1" * 64, bob.id, later, "10.0.0.1")
    session, account = accounts.session_by_digest("1" * 64)
    assert account.name == "bob" and session.created_at >= account.password_changed_at
    accounts.set_password(bob.id, "h2", end_sessions=False)  # a rehash at login keeps them
    assert accounts.session_by_digest("1" * 64) is not None
    accounts.set_password(bob.id, "h3")
    assert accounts.session_by_digest("1" * 64) is None
    accounts.add_session("2" * 64, bob.id, later, None)
    accounts.set_disabled(bob.id, True)
    assert accounts.session_by_digest("2" * 64) is None
    accounts.add_session("3" * 64, bob.id, _now() - timedelta(seconds=1), None)
    assert accounts.delete_expired_sessions(_now()) == 1
    accounts.add_session("4" * 64, bob.id, later, None)
    accounts.delete_session("4" * 64)
    assert accounts.session_by_digest("4" * 64) is None


def test_login_failures_upserted_and_cleared(catalog: Catalog) -> None:
    accounts = AccountCatalog(catalog)
    now = _now()
    accounts.save_login_failures(LoginFailures("user:bob", 1, now, None, 0))
    locked = now + timedelta(seconds=30)
    accounts.save_login_failures(LoginFailures("user:bob", 0, now, locked, 1))  # an update
    accounts.save_login_failures(LoginFailures("addr:10.0.0.1", 2, now, None, 0))
    records = {r.key: r for r in accounts.login_failures(["user:bob", "addr:10.0.0.1", "x"])}
    assert set(records) == {"user:bob", "addr:10.0.0.1"}
    assert (records["user:bob"].failures, records["user:bob"].lockouts) == (0, 1)
    assert abs(records["user:bob"].locked_until - locked) < timedelta(seconds=1)
    accounts.clear_login_failures(["user:bob", "addr:10.0.0.1"])
    assert accounts.login_failures(["user:bob", "addr:10.0.0.1"]) == []
