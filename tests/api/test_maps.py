"""``/api/datasets/{name}/maps`` over coco-mini val2017 embedded in ``text``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from fastapi.testclient import TestClient

from tagscope.service import Workspace
from tagscope.store.maps import MapStore


def test_a_map_is_computed_listed_read_and_coloured(
    client: TestClient, api_workspace: Workspace, finish_job: Callable[[dict], dict]
) -> None:
    r = client.post("/api/datasets/coco/maps", json={"space": "text", "sample": 40})
    assert r.status_code == 202, r.text
    job = finish_job(r.json())
    assert job["kind"] == "embedding_map" and job["status"] == "done", job
    assert job["result"]["n_fit"] == 40 and job["result"]["n_points"] == 79

    (summary,) = client.get("/api/datasets/coco/maps").json()
    assert summary == {
        **summary,
        "space": "text",
        "n_points": 79,
        "n_items": 79,
        "stale": False,
        "params": {"sample": 40, "n_neighbors": 15, "min_dist": 0.1, "seed": 0},
    }
    body = client.get("/api/datasets/coco/maps/text").json()
    assert body["space"] == "text" and body["n"] == 79 == len(body["ids"]) == len(body["x"])
    ids, xy = MapStore(api_workspace.paths.scores).load(api_workspace.dataset("coco").id, "text")
    assert body["ids"] == ids.tolist()
    assert np.array_equal(np.array(body["x"], np.float32), xy[:, 0])  # float32, as stored
    assert body["bounds"] == [min(body["x"]), min(body["y"]), max(body["x"]), max(body["y"])]

    colors = client.get("/api/datasets/coco/maps/text/colors", params={"by": "label"}).json()
    assert colors["kind"] == "category" and len(colors["values"]) == 79
    assert colors["categories"][0] == "person"
    split = client.get(
        "/api/datasets/coco/maps/text/colors", params={"by": "field", "field": "height"}
    ).json()
    assert split["kind"] == "number" and all(v > 0 for v in split["values"])

    again = finish_job(client.post("/api/datasets/coco/maps", json={"space": "text"}).json())
    assert again["result"]["n_placed"] == 0  # nothing new: the map stays


def test_bad_requests_are_named(client: TestClient) -> None:
    r = client.post("/api/datasets/coco/maps", json={"space": "text", "sample": 50_001})
    assert r.status_code == 422 and "sample" in r.text
    r = client.post("/api/datasets/coco/maps", json={"space": "text", "n_neighbors": 1})
    assert r.status_code == 422 and "n_neighbors" in r.text
    r = client.post("/api/datasets/coco/maps", json={"space": "nope"})
    assert r.status_code == 404 and "no embedding space 'nope'" in r.json()["message"]
    r = client.get("/api/datasets/coco/maps/nope")
    assert r.status_code == 404 and "no map of space 'nope'" in r.json()["message"]
    r = client.get("/api/datasets/coco/maps/text/colors", params={"by": "colour"})
    assert r.status_code == 422 and "by" in r.text
