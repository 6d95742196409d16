"""Media and thumbnails: only files of known items, with caching headers; no path traversal."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image


@pytest.fixture(scope="module")
def item(client: TestClient) -> dict:
    return client.get("/api/datasets/coco/items", params={"limit": 1}).json()["items"][0]


@pytest.mark.parametrize("kind", ["media", "thumbnail"])
def test_serves_image_with_etag_and_cache_control(
    client: TestClient, item: dict, kind: str
) -> None:
    r = client.get(f"/api/items/{item['id']}/{kind}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["cache-control"].startswith("private, max-age=")
    assert r.headers["etag"].strip('"')
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.size[0] > 0


def test_media_etag_is_content_hash_and_revalidates(client: TestClient, item: dict) -> None:
    r = client.get(f"/api/items/{item['id']}/media")
    assert r.headers["etag"] == f'"{item["media"]["content_hash"]}"'
    again = client.get(
        f"/api/items/{item['id']}/media", headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize("kind", ["media", "thumbnail"])
def test_unknown_item_is_404(client: TestClient, kind: str) -> None:
    r = client.get(f"/api/items/123456789/{kind}")
    assert r.status_code == 404
    assert r.json()["message"] == "no item with id 123456789"


TRAVERSALS = [
    "/api/items/../../../../etc/passwd",
    "/api/items/%2e%2e/media",
    "/api/items/%2e%2e%2f%2e%2e%2fetc%2fpasswd/media",
    "/api/items/..%2f..%2f..%2fetc%2fpasswd/thumbnail",
    "/api/items/%2Fetc%2Fpasswd/media",
    "/api/items//etc/passwd/media",
    "/api/items/1/media/../../../../etc/passwd",
    "/api/items/1/media?path=/etc/passwd",
    "/..%2f..%2f..%2fetc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "//etc/passwd",
]


@pytest.mark.parametrize("url", TRAVERSALS)
def test_path_traversal_never_serves_outside_files(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert b"root:" not in r.content
    if url.endswith("?path=/etc/passwd"):  # the unknown query parameter is ignored
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    else:
        assert 400 <= r.status_code < 500
        assert r.json()["status"] == r.status_code
