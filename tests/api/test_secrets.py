"""Passwords, API tokens and session secrets never show: not in logs (Tagscope's, uvicorn's
access log), not in an error message, not in the catalog's files in clear."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.live_server import serve

from tagscope.api.app import create_app
from tagscope.api.auth import SESSION_COOKIE
from tagscope.service import Workspace, accounts
from tagscope.service.datasets import create_dataset

PASSWORD = "Sup3r-secret-passphrase"
WRONG = "Wr0ng-guess-passphrase"
NEW_PASSWORD = "An0ther-secret-passphrase"


def _flow(client: httpx.Client | TestClient) -> tuple[list[str], list[httpx.Response]]:
    """Every step where a secret travels: a failed login, a login, a token made and used, a
    wrong and a revoked token, a password reset by REST, a user made with one. The secrets
    seen, and every answer."""
    answers = []

    def send(method: str, url: str, **kw) -> httpx.Response:
        r = client.request(method, url, **kw)
        answers.append(r)
        return r

    send("POST", "/api/auth/login", json={"name": "root", "password": WRONG})
    send("POST", "/api/auth/login", json={"name": "nobody", "password": PASSWORD})
    me = send("POST", "/api/auth/login", json={"name": "root", "password": PASSWORD}).json()
    session = client.cookies[SESSION_COOKIE]
    csrf = {"X-CSRF-Token": me["csrf_token"]}
    send("POST", "/api/datasets", json={"name": "nope"}, headers={"X-CSRF-Token": "f" * 64})
    made = send("POST", "/api/tokens", json={"name": "ci", "scope": "read"}, headers=csrf).json()
    token = made["secret"]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    send("GET", "/api/datasets", headers=bearer)
    send("POST", "/api/datasets", json={"name": "nope"}, headers=bearer)  # 403: scope read
    send("GET", "/api/datasets", headers={"Authorization": f"Bearer {token[:-3]}xyz"})
    send("GET", "/api/datasets", headers={"Authorization": f"Token {token}"})
    client.cookies.set(SESSION_COOKIE, session)
    send("POST", "/api/users", json={"name": "eve", "password": NEW_PASSWORD}, headers=csrf)
    send("POST", "/api/users", json={"name": "eve", "password": NEW_PASSWORD}, headers=csrf)
    send("PATCH", "/api/users/eve", json={"password": "short"}, headers=csrf)  # 422
    send("PATCH", "/api/users/eve", json={"password": NEW_PASSWORD + "!"}, headers=csrf)
    send("DELETE", "/api/tokens/root/ci", headers=csrf)
    client.cookies.clear()
    send("GET", "/api/datasets", headers=bearer)  # revoked
    client.cookies.set(SESSION_COOKIE, session + "x")
    send("GET", "/api/auth/me")
    secrets = [PASSWORD, WRONG, NEW_PASSWORD, NEW_PASSWORD + "!", token, session, token[4:]]
    return secrets, answers


@pytest.fixture()
def ws(workspace: Workspace) -> Workspace:
    create_dataset(workspace, "cats")
    accounts.add_user(workspace, "root", PASSWORD, role="admin")
    return workspace


def _assert_hidden(secrets: list[str], text: str, where: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:4]}...) shows in {where}"


def test_no_secret_in_logs_error_messages_or_catalog_files(
    ws: Workspace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(ws, web_dist=tmp_path / "none", allowed_hosts=["testserver"])
    client = TestClient(app)
    with caplog.at_level(logging.DEBUG):
        secrets, answers = _flow(client)
    assert [r.status_code for r in answers] == [
        *(401, 401, 200, 403, 201, 200, 403, 401, 401, 201, 409, 422, 200, 200, 401, 401)
    ]
    assert caplog.records  # DEBUG logging was on (the catalog's, at least)
    _assert_hidden(secrets, caplog.text, "the log")
    for r in answers:
        if r.is_error:
            _assert_hidden(secrets, r.text, f"the answer of {r.request.method} {r.request.url}")
            _assert_hidden(secrets, str(r.headers), f"the headers of {r.request.url}")
    # The login's answer carries the session in its cookie only, not in its body.
    _assert_hidden(secrets, answers[2].text, "the login's body")
    files = [p for p in ws.paths.root.rglob("*") if p.is_file()]
    assert any(p.name == "catalog.db" for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"a secret is in clear in {path.name}"


@pytest.fixture()
def server(ws: Workspace, tmp_path: Path) -> Iterator[str]:
    """A real uvicorn server with its access log on, logging through the root logger."""
    app = create_app(ws, web_dist=tmp_path / "none")
    with serve(app, log_config=None, log_level="debug", access_log=True) as base:
        yield base


def test_no_secret_in_the_access_log(server: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), httpx.Client(base_url=server) as client:
        secrets, answers = _flow(client)
    assert answers[2].status_code == 200
    access = [r for r in caplog.records if r.name == "uvicorn.access"]
    assert len(access) >= len(answers)  # the access log was on and captured
    # The server's records: the client's own (httpx, httpcore) show the headers it received.
    server_log = "\n".join(
        f"{r.name} {r.getMessage()} {r.args}"
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore"))
    )
    _assert_hidden(secrets, server_log, "the server's log")
