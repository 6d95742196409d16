"""Signing in to the API: sessions (cookie flags, CSRF, logout, lock-out), tokens, open mode."""

from __future__ import annotations

import time
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.api.auth import SESSION_COOKIE
from tagscope.service import Workspace, accounts
from tagscope.service.accounts import AuthSettings, LockoutPolicy
from tagscope.service.datasets import create_dataset
from tagscope.service.policy import Action

ALICE_PW = "alice-correct-horse"
BOB_PW = "bob-battery-staple"
SETTINGS = AuthSettings(
    session_ttl=timedelta(minutes=30),
    lockout=LockoutPolicy(max_failures=3, base_delay_s=1.0, max_delay_s=2.0, window_s=60.0),
)


@pytest.fixture()
def ws(workspace: Workspace) -> Workspace:
    """alice: workspace admin; bob: no workspace role, viewer of dataset ``cats``."""
    create_dataset(workspace, "cats")
    create_dataset(workspace, "dogs")
    accounts.add_user(workspace, "alice", ALICE_PW, role="admin")
    accounts.add_user(workspace, "bob", BOB_PW, role=None)
    accounts.set_role(workspace, "bob", "viewer", dataset="cats")
    return workspace


def _client(ws: Workspace, tmp_path: Path, base_url: str = "http://testserver", **kw) -> TestClient:
    app = create_app(
        ws, auth_settings=SETTINGS, web_dist=tmp_path / "none", allowed_hosts=["testserver"], **kw
    )
    return TestClient(app, base_url=base_url)


@pytest.fixture()
def client(ws: Workspace, tmp_path: Path) -> TestClient:
    return _client(ws, tmp_path)


def _login(client: TestClient, name: str = "alice", password: str = ALICE_PW) -> dict:
    r = client.post("/api/auth/login", json={"name": name, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def _cookie_attributes(set_cookie: str) -> dict[str, str | bool]:
    morsel = SimpleCookie(set_cookie)[SESSION_COOKIE]
    return {k: morsel[k] for k in ("httponly", "samesite", "secure", "path", "max-age")}


def test_no_credentials_is_401_but_login_config_and_schema_are_open(client: TestClient) -> None:
    for path in ("/api/datasets", "/api/auth/me", "/api/items/1", "/api/sql/tables"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert "sign in first" in r.json()["message"]
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert client.post("/api/sql", json={"sql": "select 1"}).status_code == 401
    for path in ("/api/config", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


def test_login_sets_a_strict_http_only_cookie_and_answers_me(client: TestClient) -> None:
    r = client.post("/api/auth/login", json={"name": "bob", "password": BOB_PW})
    assert r.status_code == 200
    flags = _cookie_attributes(r.headers["set-cookie"])
    assert flags["httponly"] is True and flags["samesite"].lower() == "strict"
    assert flags["path"] == "/" and flags["max-age"] == str(30 * 60)
    assert not flags["secure"]  # plain http
    me = r.json()
    assert me["auth"] is True and me["user"] == "bob" and me["role"] is None
    assert me["workspace_actions"] == []
    assert list(me["datasets"]) == ["cats"]  # dogs: no role, not even listed
    assert me["datasets"]["cats"] == {"role": "viewer", "actions": [Action.READ.value]}
    assert len(me["csrf_token"]) == 64
    assert client.get("/api/auth/me").json() == me
    assert [d["name"] for d in client.get("/api/datasets").json()] == ["cats"]


def test_cookie_is_secure_on_https_and_with_secure_cookies(ws: Workspace, tmp_path: Path) -> None:
    https = _client(ws, tmp_path, base_url="https://testserver")
    r = https.post("/api/auth/login", json={"name": "alice", "password": ALICE_PW})
    assert _cookie_attributes(r.headers["set-cookie"])["secure"] is True
    forced = _client(ws, tmp_path, secure_cookies=True)
    r = forced.post("/api/auth/login", json={"name": "alice", "password": ALICE_PW})
    assert _cookie_attributes(r.headers["set-cookie"])["secure"] is True


def test_wrong_password_and_unknown_user_get_the_same_401(client: TestClient) -> None:
    wrong = client.post("/api/auth/login", json={"name": "alice", "password": "not-her-password"})
    unknown = client.post("/api/auth/login", json={"name": "mallory", "password": ALICE_PW})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["message"] == unknown.json()["message"] == "wrong user name or password"
    assert "set-cookie" not in wrong.headers
    assert client.get("/api/datasets").status_code == 401


def test_lock_out_after_failures_answers_429_then_expires(client: TestClient) -> None:
    for _ in range(3):
        r = client.post("/api/auth/login", json={"name": "alice", "password": "guess-guess"})
        assert r.status_code == 401
    locked = client.post("/api/auth/login", json={"name": "alice", "password": ALICE_PW})
    assert locked.status_code == 429  # even the right password, while locked
    assert 1 <= int(locked.headers["retry-after"]) <= 2
    assert "too many failed logins" in locked.json()["message"]
    time.sleep(1.2)
    assert client.post("/api/auth/login", json={"name": "alice", "password": ALICE_PW}).is_success


def test_lock_out_counts_per_address_across_accounts(client: TestClient) -> None:
    for name in ("nobody-1", "nobody-2", "nobody-3"):
        r = client.post("/api/auth/login", json={"name": name, "password": "guess-guess"})
        assert r.status_code == 401
    # bob never failed, but this address did: 429 for it too.
    r = client.post("/api/auth/login", json={"name": "bob", "password": BOB_PW})
    assert r.status_code == 429 and "retry-after" in r.headers


def test_changes_by_cookie_need_the_csrf_token(client: TestClient) -> None:
    csrf = _login(client)["csrf_token"]
    missing = client.post("/api/datasets", json={"name": "birds"})
    wrong = client.post("/api/datasets", json={"name": "birds"}, headers={"X-CSRF-Token": "0" * 64})
    for r in (missing, wrong):
        assert r.status_code == 403
        assert r.json()["message"].startswith("CSRF token missing or wrong")
    delete = client.delete("/api/datasets/dogs")
    assert delete.status_code == 403 and "CSRF" in delete.json()["message"]
    assert client.get("/api/datasets/dogs").status_code == 200  # reading needs none
    ok = client.post("/api/datasets", json={"name": "birds"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert client.get("/api/auth/me").json()["csrf_token"] == csrf


def test_bearer_wins_over_the_cookie_and_needs_no_csrf(ws: Workspace, client: TestClient) -> None:
    _login(client)  # alice, admin, by cookie
    _, bob_secret = accounts.create_token(ws, "bob", "ci", scope="read")
    bob = {"Authorization": f"Bearer {bob_secret}"}
    me = client.get("/api/auth/me", headers=bob).json()
    assert me["user"] == "bob" and me["csrf_token"] is None
    r = client.post("/api/datasets", json={"name": "birds"}, headers=bob)
    assert r.status_code == 403 and "bob" in r.json()["message"]  # bob's rights, not alice's
    _, alice_secret = accounts.create_token(ws, "alice", "ci")
    alice = {"Authorization": f"Bearer {alice_secret}"}
    assert client.post("/api/datasets", json={"name": "birds"}, headers=alice).status_code == 201
    bad = client.get("/api/datasets", headers={"Authorization": "Bearer tsk_not-a-token"})
    assert bad.status_code == 401  # a bad token is refused, not replaced by the cookie
    basic = client.get("/api/datasets", headers={"Authorization": "Basic YWxpY2U6eA=="})
    assert basic.status_code == 401 and "Bearer" in basic.json()["message"]


def test_logout_ends_the_session(client: TestClient) -> None:
    csrf = _login(client)["csrf_token"]
    secret = client.cookies[SESSION_COOKIE]
    assert client.post("/api/auth/logout").status_code == 403  # CSRF: no forced logout
    r = client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    cleared = _cookie_attributes(r.headers["set-cookie"])
    assert cleared["max-age"] == "0"
    assert client.get("/api/auth/me").status_code == 401
    client.cookies.set(SESSION_COOKIE, secret)  # the old cookie, replayed
    assert client.get("/api/auth/me").status_code == 401


def test_a_disabled_user_is_refused_everywhere(ws: Workspace, client: TestClient) -> None:
    _login(client, "bob", BOB_PW)
    _, secret = accounts.create_token(ws, "bob", "ci", scope="read")
    accounts.disable_user(ws, "bob")
    assert client.get("/api/auth/me").status_code == 401  # the session ended
    r = client.get("/api/datasets", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401 and "disabled" in r.json()["message"]
    client.cookies.clear()
    r = client.post("/api/auth/login", json={"name": "bob", "password": BOB_PW})
    assert r.status_code == 401


def test_login_from_another_site_is_refused(client: TestClient) -> None:
    body = {"name": "alice", "password": ALICE_PW}
    refused = (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://testserver"},
        {"Sec-Fetch-Site": "same-site"},
    )
    for headers in refused:
        r = client.post("/api/auth/login", json=body, headers=headers)
        assert r.status_code == 403 and "another site" in r.json()["message"], headers
        assert "set-cookie" not in r.headers
    # The browser's Sec-Fetch-Site wins over an Origin a proxy's Host rewrite makes look foreign.
    for same in ({"Origin": "http://testserver"}, {"Sec-Fetch-Site": "same-origin"}):
        assert client.post("/api/auth/login", json=body, headers=same).status_code == 200
    behind_proxy = {"Sec-Fetch-Site": "same-origin", "Origin": "https://tagscope.lan"}
    assert client.post("/api/auth/login", json=body, headers=behind_proxy).status_code == 200


def test_users_and_tokens_over_rest(client: TestClient) -> None:
    csrf = {"X-CSRF-Token": _login(client)["csrf_token"]}
    made = client.post(
        "/api/users", json={"name": "carol", "password": "carol-pass-1", "role": None}, headers=csrf
    )
    assert made.status_code == 201 and made.json()["role"] is None
    r = client.put("/api/users/carol/roles/dogs", json={"role": "editor"}, headers=csrf)
    assert r.json()["dataset_roles"] == {"dogs": "editor"}
    names = [u["name"] for u in client.get("/api/users").json()]
    assert names == ["alice", "bob", "carol"]
    r = client.post("/api/tokens", json={"user": "carol", "name": "ci"}, headers=csrf)
    assert r.status_code == 201 and r.json()["secret"].startswith("tsk_")
    carol = {"Authorization": f"Bearer {r.json()['secret']}"}
    assert [d["name"] for d in client.get("/api/datasets", headers=carol).json()] == ["dogs"]
    assert client.get("/api/users", headers=carol).status_code == 403  # not an admin
    # A token of scope write cannot make tokens; carol's session can, for herself only.
    assert client.post("/api/tokens", json={"name": "x"}, headers=carol).status_code == 403
    assert client.get("/api/tokens", headers=carol).status_code == 403
    r = client.patch("/api/users/carol", json={"role": "viewer", "disabled": True}, headers=csrf)
    assert r.json()["role"] == "viewer" and r.json()["disabled"] is True
    assert client.get("/api/datasets", headers=carol).status_code == 401
    client.patch("/api/users/carol", json={"disabled": False}, headers=csrf)
    r = client.delete("/api/users/carol/roles/dogs", headers=csrf)
    assert r.json()["dataset_roles"] == {}
    revoked = client.delete("/api/tokens/carol/ci", headers=csrf)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/api/datasets", headers=carol).status_code == 401


def test_own_tokens_by_session(client: TestClient) -> None:
    csrf = {"X-CSRF-Token": _login(client, "bob", BOB_PW)["csrf_token"]}
    r = client.post("/api/tokens", json={"name": "laptop", "scope": "read"}, headers=csrf)
    assert r.status_code == 201 and r.json()["token"]["user"] == "bob"
    assert [t["name"] for t in client.get("/api/tokens").json()] == ["laptop"]
    wider = client.post("/api/tokens", json={"name": "w", "scope": "write"}, headers=csrf)
    assert wider.status_code == 422 and wider.json()["field"] == "scope"  # a viewer's: read
    other = client.post("/api/tokens", json={"user": "alice", "name": "x"}, headers=csrf)
    assert other.status_code == 403
    assert client.delete("/api/tokens/bob/laptop", headers=csrf).status_code == 200


def test_open_mode_acts_as_the_owner(ws: Workspace, tmp_path: Path) -> None:
    client = _client(ws, tmp_path, auth=False)
    me = client.get("/api/auth/me").json()
    assert me["auth"] is False and me["user"] == ws.identity.name and me["csrf_token"] is None
    assert me["workspace_actions"] == [Action.DATASET_CREATE.value, Action.USERS_MANAGE.value]
    assert set(me["datasets"]) == {"cats", "dogs"}
    assert Action.DATASET_DELETE.value in me["datasets"]["dogs"]["actions"]
    assert client.post("/api/datasets", json={"name": "birds"}).status_code == 201  # no CSRF
    r = client.post("/api/auth/login", json={"name": "alice", "password": ALICE_PW})
    assert r.status_code == 400 and "no accounts" in r.json()["message"]
