"""Hostile input gets a client error, never a 500: every route of the OpenAPI schema is walked with
ids past 64 bits, lone surrogates, markup-like and SQL-like strings."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.service import Workspace
from tagscope.service.embeddings import compute_embeddings
from tagscope.service.imports import import_coco

HUGE = 2**63
"""One past the largest SQLite / DuckDB integer."""

HOSTILE_INTS = [HUGE, -(2**63) - 1, 10**40]
HOSTILE_STRINGS = ["9" * 40, "[/x]", "' OR 1=1 --", "%00", "\u202e", "-1"]
SURROGATE = "\ud800"


def _routes(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    spec = client.get("/openapi.json").json()
    return [
        (method, path, {**op, "components": spec.get("components", {})})
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    ]


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _resolve(options[0], components) if options else {"type": "null"}
    return schema


def _value(schema: dict[str, Any], components: dict[str, Any], an_int: int, a_str: str) -> Any:
    schema = _resolve(schema, components)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "integer":
        return an_int
    if kind == "number":
        return float(an_int)
    if kind == "boolean":
        return True
    if kind == "array":
        return [_value(schema.get("items", {}), components, an_int, a_str)]
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _value(v, components, an_int, a_str) for k, v in props.items()}
    return a_str


def _quoted(value: Any) -> str:
    """``value`` percent-encoded for a URL; a surrogate as the bytes ED A0 80 (no UTF-8), as a
    hostile client would send it."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _request(
    client: TestClient, method: str, path: str, op: dict[str, Any], an_int: int, a_str: str
) -> tuple[int, str]:
    components = op["components"]
    url, query = path, []
    for param in op.get("parameters", []):
        value = _value(param.get("schema", {}), components, an_int, a_str)
        if param["in"] == "path":
            # A real dataset where a name is asked for (so that the ids reach the use cases),
            # except where the route would delete it.
            if isinstance(value, str) and method != "delete":
                value = "coco" if param["name"] in ("name", "dataset") else a_str
            url = url.replace("{" + param["name"] + "}", _quoted(value))
        elif param["in"] == "query":
            values = value if isinstance(value, list) else [value]
            query.extend(f"{param['name']}={_quoted(v)}" for v in values)
    url += "?" + "&".join(query) if query else ""
    kwargs: dict[str, Any] = {}
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = _value(content["application/json"]["schema"], components, an_int, a_str)
        # json.dumps escapes a lone surrogate as \ud800, as a hostile client would send it.
        kwargs["content"] = json.dumps(body)
        kwargs["headers"] = {"content-type": "application/json"}
    elif "multipart/form-data" in content:
        schema = _resolve(content["multipart/form-data"]["schema"], components)
        form = {
            # A surrogate in a form is bytes that are no UTF-8 (ED A0 80), as a client sends it.
            k: str(_value(v, components, an_int, a_str)).encode("utf-8", "surrogatepass")
            for k, v in schema["properties"].items()
            if k != "file"
        }
        kwargs["data"], kwargs["files"] = form, {"file": ("x.png", b"not an image", "image/png")}
    r = client.request(method, url, **kwargs)
    return r.status_code, r.text


@pytest.fixture(scope="module")
def own_client(coco_mini: Path, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """A workspace of this module's own (the walk creates what hostile input may create):
    coco-mini's val2017 with captions, embedded in the ``text`` space."""
    ws = Workspace.open(tmp_path_factory.mktemp("hostile") / "ws")
    ann = coco_mini / "annotations"
    import_coco(
        ws,
        "coco",
        ann / "instances_val2017.json",
        images=coco_mini / "val2017",
        captions=ann / "captions_val2017.json",
        thumbnails=False,
    )
    compute_embeddings(ws, "coco", space="text", kind="text")
    app = create_app(ws, auth=False, web_dist=tmp_path_factory.mktemp("no-web") / "dist")
    return TestClient(app, base_url="http://localhost")


@pytest.fixture(scope="module")
def raw_client(own_client: TestClient) -> TestClient:
    """The same app, answering 500s instead of raising them into the test."""
    return TestClient(own_client.app, raise_server_exceptions=False, base_url="http://localhost")


def _finished(client: TestClient, job: dict) -> dict:
    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/api/jobs/{job['id']}").json()
    return job


@pytest.mark.slow
@pytest.mark.parametrize("an_int", HOSTILE_INTS)
def test_huge_ids_anywhere_are_client_errors(raw_client: TestClient, an_int: int) -> None:
    failures = []
    for method, path, op in _routes(raw_client):
        for a_str in HOSTILE_STRINGS:
            status, text = _request(raw_client, method, path, op, an_int, a_str)
            if status >= 500:
                failures.append(f"{method.upper()} {path} {a_str!r}: {status} {text[:200]}")
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_lone_surrogates_in_bodies_are_client_errors(raw_client: TestClient) -> None:
    failures = []
    for method, path, op in _routes(raw_client):
        if "requestBody" not in op:
            continue
        status, text = _request(raw_client, method, path, op, 1, SURROGATE)
        if status >= 500 or status == 200:
            failures.append(f"{method.upper()} {path}: {status} {text[:200]}")
    assert not failures, "\n".join(failures)


def test_a_lone_surrogate_names_its_field(client: TestClient) -> None:
    body = '{"text": "a dog \\ud800", "k": 5, "space": "text"}'
    r = client.post(
        "/api/datasets/coco/search", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["field"] == "text" and "surrogate" in r.json()["message"]
    # A pair is a character, and an escaped backslash no escape: both are fine.
    for fine in [
        '{"text": "a dog \\ud83d\\udc36", "k": 5, "space": "text"}',
        '{"text": "a \\\\ud800", "k": 5, "space": "text"}',
    ]:
        r = client.post(
            "/api/datasets/coco/search", content=fine, headers={"content-type": "application/json"}
        )
        assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "url",
    [
        f"/api/items/{HUGE}",
        f"/api/items/{HUGE}/thumbnail",
        f"/api/items/{HUGE}/media",
        f"/api/items/{HUGE}/similar",
        f"/api/jobs/{HUGE}",
        f"/api/datasets/coco/items?offset={HUGE}",
    ],
)
def test_a_huge_id_in_the_path_or_query_is_422(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 422, r.text
    assert "9223372036854775807" in r.json()["message"]


def test_a_malformed_cursor_is_a_client_error(client: TestClient) -> None:
    r = client.get("/api/datasets/coco/items", params={"cursor": "not-a-cursor"})
    assert r.status_code == 422 and "cursor" in r.json()["message"]


# -- embed: models the server offers, and errors that tell nothing of its disk ---------------
@pytest.mark.parametrize(
    "model",
    ["/etc", "/no/such/folder", "../../etc", "~/", "/etc/passwd", "tests", "no-such/model-x"],
)
def test_embed_takes_no_server_path_and_its_errors_tell_nothing(
    own_client: TestClient, model: str
) -> None:
    r = own_client.post(
        "/api/datasets/coco/embed", json={"space": "probe", "kind": "text", "model": model}
    )
    assert (r.status_code, r.json()["field"]) == (422, "model"), r.text
    message = r.json()["message"].replace(repr(model), "MODEL")
    # One answer whether the path exists, is a folder, a file or a model id not on the server.
    assert message.startswith("model MODEL is not available on the server: name a model folder")
    assert "exist" not in message and "/root" not in message and "cache (" not in message


def test_embed_takes_a_model_folder_the_server_offers(
    own_client: TestClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tagscope.embed.text import bundled_model_dir

    offered = tmp_path / "offered"
    offered.mkdir()
    (offered / "minilm").symlink_to(bundled_model_dir(), target_is_directory=True)
    monkeypatch.setenv("TAGSCOPE_MODEL_DIRS", str(offered))
    body = {"space": "text-offered", "kind": "text", "model": "minilm"}
    r = own_client.post("/api/datasets/coco/embed", json=body)
    assert r.status_code == 202, r.text
    job = _finished(own_client, r.json())
    assert job["status"] == "done" and job["result"]["n_embedded"] > 0, job
    assert job["result"]["model"] == str(bundled_model_dir().resolve())
    # Unknown names now list what is offered.
    r = own_client.post("/api/datasets/coco/embed", json={**body, "model": "other"})
    assert r.status_code == 422 and "(minilm)" in r.json()["message"]


def test_a_decompression_bomb_upload_is_a_client_error(client: TestClient) -> None:
    from PIL import Image

    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, "PNG")  # 144 Mpx in a few KB
    assert bomb.tell() < 100_000
    files = {"file": ("bomb.png", bomb.getvalue(), "image/png")}
    r = client.post("/api/datasets/coco/search/image", files=files, data={"space": "text"})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "image" and "pixels" in r.json()["message"]


def test_a_nul_character_names_its_field(client: TestClient) -> None:
    # PostgreSQL cannot store a NUL in text: refused before any route, wherever it is.
    for body, field in [
        ('{"text": "a dog\\u0000", "k": 5, "space": "text"}', "text"),
        ('{"text": "a dog", "k": 5, "space": "text", "x": ["ok", "b\\u0000d"]}', "x.1"),
    ]:
        r = client.post(
            "/api/datasets/coco/search", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field and "NUL" in r.json()["message"]
    fine = '{"text": "a \\\\u0000 dog", "k": 5, "space": "text"}'  # an escaped backslash
    r = client.post(
        "/api/datasets/coco/search", content=fine, headers={"content-type": "application/json"}
    )
    assert r.status_code == 200, r.text
