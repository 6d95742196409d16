"""Search by text, by item and by uploaded image; similar items; near-duplicate pairs."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tagscope.service import Workspace


def _labels(client: TestClient, item_id: int) -> set[str]:
    return {lab["name"] for lab in client.get(f"/api/items/{item_id}").json()["labels"]}


@pytest.fixture(scope="module")
def phash(client: TestClient) -> None:
    """The ``phash`` space (weight-free), embedded through the API."""
    job = client.post("/api/datasets/coco/embed", json={"kind": "phash"}).json()
    deadline = time.monotonic() + 60
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/api/jobs/{job['id']}").json()
    assert job["status"] == "done", job


def test_text_search_finds_a_dog_first(client: TestClient) -> None:
    r = client.post("/api/datasets/coco/search", json={"text": "a dog", "space": "text", "k": 5})
    assert r.status_code == 200
    hits = r.json()
    assert len(hits) == 5
    assert hits == sorted(hits, key=lambda h: -h["score"])
    assert "dog" in _labels(client, hits[0]["item_id"])
    assert hits[0]["thumbnail_url"] == f"/api/items/{hits[0]['item_id']}/thumbnail"


def test_text_search_options(client: TestClient) -> None:
    body = {"text": "a dog", "space": "text", "k": 50, "min_score": 0.3}
    hits = client.post("/api/datasets/coco/search", json=body).json()
    assert hits and all(h["score"] >= 0.3 for h in hits)
    both = {**body, "min_score": None, "labels": ["person", "dog"], "label_mode": "all"}
    for h in client.post("/api/datasets/coco/search", json=both).json():
        assert {"person", "dog"} <= _labels(client, h["item_id"])


def test_search_by_item_leaves_the_item_out(client: TestClient) -> None:
    first = client.post("/api/datasets/coco/search", json={"text": "a dog", "space": "text"})
    item_id = first.json()[0]["item_id"]
    body = {"item_id": item_id, "space": "text", "k": 5}
    hits = client.post("/api/datasets/coco/search", json=body).json()
    assert len(hits) == 5 and item_id not in [h["item_id"] for h in hits]
    similar = client.get(f"/api/items/{item_id}/similar", params={"space": "text", "k": 5})
    assert similar.json() == hits


def test_search_by_uploaded_image_finds_that_image(
    client: TestClient, phash: None, api_workspace: Workspace
) -> None:
    item = client.get("/api/datasets/coco/items", params={"limit": 1}).json()["items"][0]
    picture = Image.open(Path(item["path"])).convert("RGB")
    picture = picture.resize((picture.width // 2, picture.height // 2))
    buf = io.BytesIO()
    picture.save(buf, "JPEG", quality=70)
    r = client.post(
        "/api/datasets/coco/search/image",
        files={"file": ("query.jpg", buf.getvalue(), "image/jpeg")},
        data={"space": "phash", "k": "3"},
    )
    assert r.status_code == 200, r.text
    assert r.json()[0]["item_id"] == item["id"]
    assert r.json()[0]["score"] > 0.9


def test_duplicates_lists_pairs(client: TestClient, phash: None) -> None:
    r = client.get("/api/datasets/coco/duplicates", params={"min_score": 0.5, "k": 3})
    assert r.status_code == 200
    for pair in r.json():
        assert pair["a"]["item_id"] < pair["b"]["item_id"] and pair["score"] >= 0.5
    assert client.get("/api/datasets/coco/duplicates").status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"text": "a dog", "item_id": 1, "space": "text"}, 422, None),
        ({"space": "text"}, 422, None),
        ({"text": "   ", "space": "text"}, 422, "text"),
        ({"text": "a dog", "space": "text", "k": 0}, 422, "k"),
        ({"text": "a dog", "space": "text", "label_mode": "some"}, 422, "label_mode"),
        ({"text": "a dog", "space": "no-such-space"}, 404, None),
        ({"item_id": 10**9, "space": "text"}, 404, None),
    ],
)
def test_search_bad_input(client: TestClient, body: dict, status: int, field: str | None) -> None:
    r = client.post("/api/datasets/coco/search", json=body)
    assert r.status_code == status, r.text
    assert r.json()["field"] == field


def test_search_in_unknown_dataset_is_404(client: TestClient) -> None:
    r = client.post("/api/datasets/nope/search", json={"text": "a dog", "space": "text"})
    assert r.status_code == 404


def test_text_cannot_search_a_phash_space(client: TestClient, phash: None) -> None:
    r = client.post("/api/datasets/coco/search", json={"text": "a dog", "space": "phash"})
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("files", "status", "field"),
    [
        ({"file": ("x.jpg", b"this is not an image", "image/jpeg")}, 422, "image"),
        (None, 422, "file"),
    ],
)
def test_image_search_bad_upload(
    client: TestClient, phash: None, files: dict | None, status: int, field: str
) -> None:
    r = client.post("/api/datasets/coco/search/image", files=files, data={"space": "phash"})
    assert r.status_code == status
    assert r.json()["field"] == field


def test_similar_of_unknown_item_is_404(client: TestClient) -> None:
    assert client.get("/api/items/999999/similar", params={"space": "text"}).status_code == 404
