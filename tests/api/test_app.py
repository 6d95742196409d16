"""The app itself: OpenAPI docs, unknown API routes, and the web app with its SPA fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.service import Workspace


def test_openapi_schema_lists_the_routes(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in ["/api/datasets", "/api/datasets/{name}/items", "/api/items/{item_id}/media"]:
        assert path in paths


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_route_is_json_404(client: TestClient, method: str) -> None:
    r = getattr(client, method)("/api/no-such-thing")
    assert r.status_code in (404, 405)
    assert r.json()["status"] == r.status_code


@pytest.fixture()
def web_client(tmp_path: Path, api_workspace: Workspace) -> TestClient:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=app></div>")
    (dist / "assets" / "app-1234.js").write_text("console.log('hi')")
    (tmp_path / "secret.txt").write_text("root: do not serve")
    return TestClient(create_app(api_workspace, web_dist=dist))


def test_web_app_files_and_spa_fallback(web_client: TestClient) -> None:
    assert "id=app" in web_client.get("/").text
    asset = web_client.get("/assets/app-1234.js")
    assert asset.text == "console.log('hi')"
    assert "immutable" in asset.headers["cache-control"]
    # Client-side routes get the app's shell.
    deep = web_client.get("/datasets/coco/grid")
    assert deep.status_code == 200 and "id=app" in deep.text


@pytest.mark.parametrize(
    "url",
    ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt", "/..%2fsecret.txt"],
)
def test_web_app_never_serves_outside_dist(web_client: TestClient, url: str) -> None:
    r = web_client.get(url)
    assert "root:" not in r.text


def test_api_routes_are_not_shadowed_by_the_web_app(web_client: TestClient) -> None:
    r = web_client.get("/api/nothing-here")
    assert r.status_code == 404 and r.json()["status"] == 404
    assert web_client.get("/api/datasets").status_code == 200


def test_without_built_web_app_root_says_so(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 404
    assert "web app is not built" in r.json()["message"]


def test_unexpected_errors_are_json_500(
    api_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tagscope.service import jobs

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(jobs, "list_jobs", broken)
    app = create_app(api_workspace, web_dist=tmp_path / "dist")
    r = TestClient(app, raise_server_exceptions=False).get("/api/jobs")
    assert r.status_code == 500
    assert r.json()["status"] == 500 and "secret" not in r.json()["message"]
