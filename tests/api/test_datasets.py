"""``/api/datasets``: list, create, describe, delete, and their errors."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient


def test_list_includes_imported_dataset(client: TestClient) -> None:
    r = client.get("/api/datasets")
    assert r.status_code == 200
    coco = next(d for d in r.json() if d["name"] == "coco")
    assert coco["n_items"] == 79


def test_describe_gives_labels_and_spaces(client: TestClient) -> None:
    r = client.get("/api/datasets/coco")
    assert r.status_code == 200
    info = r.json()
    assert info["n_items"] == 79
    assert info["labels"]["person"] > 10
    assert isinstance(info["spaces"], list)


def test_create_then_delete(client: TestClient) -> None:
    r = client.post("/api/datasets", json={"name": "scratch-1", "description": "tmp"})
    assert r.status_code == 201
    assert r.json()["name"] == "scratch-1"
    assert r.json()["n_items"] == 0
    assert client.delete("/api/datasets/scratch-1").status_code == 204
    assert client.get("/api/datasets/scratch-1").status_code == 404


@pytest.mark.parametrize("name", ["bad name!", "", "../etc", "-leading", "x" * 200])
def test_create_rejects_invalid_names(client: TestClient, name: str) -> None:
    r = client.post("/api/datasets", json={"name": name})
    assert r.status_code == 422
    assert r.json()["field"] == "name"
    assert "invalid dataset name" in r.json()["message"]


def test_create_taken_name_is_409(client: TestClient) -> None:
    r = client.post("/api/datasets", json={"name": "coco"})
    assert r.status_code == 409
    assert r.json() == {"status": 409, "message": "dataset 'coco' already exists", "field": None}


def test_create_without_name_names_the_field(client: TestClient) -> None:
    r = client.post("/api/datasets", json={"description": "no name"})
    assert r.status_code == 422
    assert r.json()["field"] == "name"


@pytest.mark.parametrize("method", ["get", "delete"])
def test_unknown_dataset_is_404(client: TestClient, method: str) -> None:
    r = getattr(client, method)("/api/datasets/no-such-dataset")
    assert r.status_code == 404
    assert r.json()["message"] == "no dataset named 'no-such-dataset'"


def test_embed_starts_a_job_that_finishes(client: TestClient) -> None:
    r = client.post("/api/datasets/coco/embed", json={"kind": "phash"})
    assert r.status_code == 202
    job = r.json()
    assert job["kind"] == "embed" and job["status"] in ("queued", "running", "done")
    deadline = time.monotonic() + 60
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/api/jobs/{job['id']}").json()
    assert job["status"] == "done", job
    assert job["progress"] == 1.0
    assert job["result"]["n_items"] == 79
    spaces = {s["name"]: s for s in client.get("/api/datasets/coco").json()["spaces"]}
    assert spaces["phash"]["n_vectors"] == 79


@pytest.mark.parametrize(
    ("name", "body", "status", "field"),
    [
        ("coco", {"kind": "word2vec"}, 422, "kind"),
        ("coco", {"kind": "phash", "batch_size": 0}, 422, "batch_size"),
        ("nope", {"kind": "phash"}, 404, None),
        ("coco", {"space": "text", "kind": "phash"}, 409, None),
    ],
)
def test_embed_bad_input(
    client: TestClient, name: str, body: dict, status: int, field: str | None
) -> None:
    r = client.post(f"/api/datasets/{name}/embed", json=body)
    assert r.status_code == status, r.text
    assert r.json()["field"] == field
