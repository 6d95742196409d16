"""`tagscope serve`: the app it serves answers the allowed host names and caps bodies as told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tagscope.cli.main import app

runner = CliRunner()


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `tagscope serve` hands to uvicorn (uvicorn itself is not started)."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: seen.update(app=asgi, **kw))
    return seen


def test_serve_answers_its_host_and_the_allowed_ones(served: dict, tmp_path: Path) -> None:
    args = ["serve", "--host", "0.0.0.0", "--allowed-host", "tagscope.lan", "-w", str(tmp_path)]
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
