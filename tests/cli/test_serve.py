"""`tagscope serve`: the app it serves answers the allowed host names and caps bodies as told;
accounts are on unless --no-auth, and a network host needs an admin first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.service import Workspace, accounts

runner = CliRunner()


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `tagscope serve` hands to uvicorn (uvicorn itself is not started)."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: seen.update(app=asgi, **kw))
    return seen


def test_serve_answers_its_host_and_the_allowed_ones(served: dict, tmp_path: Path) -> None:
    args = ["serve", "--host", "0.0.0.0", "--no-auth", "--allowed-host", "tagscope.lan"]
    args += ["-w", str(tmp_path)]
    out = runner.invoke(app, [*args, "--allowed-host", "box:8443", "--max-body-mb", "0.01"])
    assert out.exit_code == 0, out.output
    client = TestClient(served["app"])
    for host, status in [
        ("tagscope.lan:8000", 200),
        ("box:8443", 200),
        ("localhost:8000", 200),
        ("evil.example:8000", 400),
    ]:
        assert client.get("/api/datasets", headers={"host": host}).status_code == status, host
    r = client.post("/api/sql", json={"sql": "x" * 20_000}, headers={"host": "localhost"})
    assert r.status_code == 413 and "0.01 MB" in r.json()["message"]


ADD_ADMIN = "tagscope users add NAME --role admin"
OPEN = "anyone who reaches this port acts as the workspace owner"


def test_serve_refuses_a_network_host_without_an_admin(served: dict, tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path)
    accounts.add_user(ws, "vic", "viewer-password", role="viewer")  # users, but no admin
    for host in ("0.0.0.0", "192.168.1.20", "tagscope.lan"):
        out = runner.invoke(app, ["serve", "--host", host, "-w", str(tmp_path)])
        assert out.exit_code != 0, host
        assert ADD_ADMIN in " ".join(out.output.split()), out.output
    assert served == {}  # uvicorn never started


def test_serve_on_loopback_without_an_admin_says_how_to_add_one(
    served: dict, tmp_path: Path
) -> None:
    out = runner.invoke(app, ["serve", "-w", str(tmp_path)])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "accounts: on" in text and ADD_ADMIN in text and OPEN not in text
    client = TestClient(served["app"], base_url="http://localhost")
    assert client.get("/api/datasets").status_code == 401


def test_serve_with_an_admin_on_the_network_needs_credentials(served: dict, tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path)
    accounts.add_user(ws, "root", "admin-password", role="admin")
    args = ["serve", "--host", "0.0.0.0", "--secure-cookies", "-w", str(tmp_path)]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "accounts: on" in out.output and ADD_ADMIN not in out.output
    client = TestClient(served["app"], base_url="http://localhost")
    assert client.get("/api/datasets").status_code == 401
    r = client.post("/api/auth/login", json={"name": "root", "password": "admin-password"})
    assert r.status_code == 200 and "Secure" in r.headers["set-cookie"]  # --secure-cookies


def test_serve_no_auth_says_so_and_acts_as_the_owner(served: dict, tmp_path: Path) -> None:
    out = runner.invoke(app, ["serve", "--no-auth", "-w", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert OPEN in " ".join(out.output.split())
    client = TestClient(served["app"], base_url="http://localhost")
    assert client.get("/api/datasets").status_code == 200
    assert client.get("/api/auth/me").json()["auth"] is False


def test_demo_serves_without_accounts_on_loopback(
    served: dict, tmp_path: Path, imagenette: Path
) -> None:
    photos = tmp_path / "photos"
    for src in sorted(imagenette.glob("*/*.JPEG"))[:3]:
        (photos / src.parent.name).mkdir(parents=True, exist_ok=True)
        (photos / src.parent.name / src.name).write_bytes(src.read_bytes())
    out = runner.invoke(app, ["demo", str(photos), "-w", str(tmp_path / "ws")])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "the demo serves without accounts" in text and OPEN in text
    client = TestClient(served["app"], base_url="http://localhost")
    assert [d["name"] for d in client.get("/api/datasets").json()] == ["demo"]
