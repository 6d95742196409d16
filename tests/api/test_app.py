"""The app itself: OpenAPI docs, unknown API routes, the web app with its SPA fallback, the Host
header check and the request body limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
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
    return TestClient(
        create_app(api_workspace, auth=False, web_dist=dist, allowed_hosts=["testserver"])
    )


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
    app = create_app(api_workspace, auth=False, web_dist=tmp_path / "dist")
    client = TestClient(app, raise_server_exceptions=False, base_url="http://localhost")
    r = client.get("/api/jobs")
    assert r.status_code == 500
    assert r.json()["status"] == 500 and "secret" not in r.json()["message"]


# -- the Host header check (DNS rebinding) -------------------------------------------------
@pytest.fixture(scope="module")
def local_app(api_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The app as `tagscope serve` makes it by default: no extra host names, default limits."""
    return create_app(api_workspace, auth=False, web_dist=tmp_path_factory.mktemp("local") / "dist")


@pytest.mark.parametrize(
    "base_url",
    ["http://localhost:8000", "http://127.0.0.1", "http://[::1]:8000", "http://LOCALHOST."],
)
def test_local_host_names_are_answered(local_app: FastAPI, base_url: str) -> None:
    assert TestClient(local_app, base_url=base_url).get("/api/datasets").status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "testserver", "127.0.0.1.evil.example", ""]
)
def test_other_host_names_are_refused(local_app: FastAPI, host: str) -> None:
    r = TestClient(local_app).get("/api/datasets", headers={"host": host})
    assert r.status_code == 400
    body = r.json()
    assert body["field"] == "host" and "DNS rebinding" in body["message"]
    assert "--allowed-host" in body["message"]
    # The web app's pages too, not only the API.
    assert TestClient(local_app).get("/", headers={"host": host}).status_code == 400


def test_allowed_hosts_add_names_and_ports(api_workspace: Workspace, tmp_path: Path) -> None:
    app = create_app(
        api_workspace,
        auth=False,
        web_dist=tmp_path / "dist",
        allowed_hosts=["Data.lan", "box:8443", "::2"],
    )
    client = TestClient(app)
    for host, status in [
        ("data.lan:9000", 200),
        ("box:8443", 200),
        ("box:8444", 400),
        ("box", 400),
        ("[::2]:80", 200),
        ("localhost:1", 200),
        ("other.lan", 400),
    ]:
        assert client.get("/api/datasets", headers={"host": host}).status_code == status, host
    star = create_app(api_workspace, auth=False, web_dist=tmp_path / "dist", allowed_hosts=["*"])
    assert TestClient(star).get("/api/datasets", headers={"host": "any.name"}).status_code == 200


# -- request body limits --------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_limits(api_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    app = create_app(
        api_workspace,
        auth=False,
        web_dist=tmp_path_factory.mktemp("small") / "dist",
        max_body_bytes=2000,
        max_upload_bytes=50_000,
    )
    return TestClient(app, base_url="http://localhost")


def test_a_json_body_over_the_limit_is_413(small_limits: TestClient) -> None:
    assert small_limits.post("/api/sql", json={"sql": "SELECT 1"}).status_code == 200
    r = small_limits.post("/api/sql", json={"sql": "SELECT 1 -- " + "x" * 3000})
    assert r.status_code == 413
    assert "limit of 0.00191 MB (2000 bytes)" in r.json()["message"]
    assert "--max-body-mb" in r.json()["message"]


def test_a_chunked_body_over_the_limit_is_413(small_limits: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"sql": "SELECT 1 -- '
        yield b"x" * 3000
        yield b'"}'

    r = small_limits.post(
        "/api/sql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and "--max-body-mb" in r.json()["message"]


def test_an_upload_over_the_limit_is_413(small_limits: TestClient) -> None:
    files = {"file": ("big.png", b"\x89PNG" + b"\0" * 60_000, "image/png")}
    r = small_limits.post("/api/datasets/coco/search/image", files=files, data={"space": "text"})
    assert r.status_code == 413 and "--max-upload-mb" in r.json()["message"]


def test_a_streamed_upload_stops_being_read_at_the_limit(
    api_workspace: Workspace, tmp_path: Path
) -> None:
    """At the ASGI level, as a server streams it: 200 chunks of 64 KB offered, without a
    Content-Length; the app stops pulling them once the 1 MB limit is passed."""
    app = create_app(
        api_workspace, auth=False, web_dist=tmp_path / "dist", max_upload_bytes=1 << 20
    )
    boundary = b"xyz"
    head = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
    chunks = [head] + [b"\0" * 65536] * 200
    pulled = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {"type": "http.request", "body": chunks[pulled - 1], "more_body": True}
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/datasets/coco/search/image",
        "raw_path": b"/api/datasets/coco/search/image",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"localhost"),
            (b"content-type", b"multipart/form-data; boundary=" + boundary),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert pulled <= 18  # 1 MB = 16 chunks of 64 KB, + the head, + the one over the limit


# -- background job errors ---------------------------------------------------------------
def test_a_failed_background_job_shows_its_error(
    client: TestClient, api_workspace: Workspace, finish_job: Callable[[dict], dict]
) -> None:
    def work(report):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    job = api_workspace.runner.submit("demo", None, {}, work)
    shown = finish_job(client.get(f"/api/jobs/{job.id}").json())
    assert shown["status"] == "error"
    assert shown["error"] == "OSError: [Errno 28] No space left on device"
