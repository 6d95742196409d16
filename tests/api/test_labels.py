"""An item's labels over HTTP: read, add, replace, change, delete, each write undoable."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.domain import Label, LabelKind, LabelSource, MediaInfo, NewItem
from tagscope.domain.access import Identity
from tagscope.service import Workspace

PREDICTED = Label(LabelKind.CLASSIFICATION, "fox", LabelSource.PREDICTION, score=0.25)


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, list[int]]:
    """Dataset ``d``: two items of 40 x 30 pixels, the first with a predicted ``fox``."""
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    ws = Workspace.open(tmp_path / "ws").acting_as(Identity.owner("bob"))
    ds = ws.catalog.create_dataset("d")
    ws.catalog.add_items(
        ds.id,
        [
            NewItem(
                f"/d/{i}.jpg", MediaInfo(1, 40, 30, "JPEG", f"h{i}"), labels=(PREDICTED,)[: 1 - i]
            )
            for i in range(2)
        ],
    )
    client = TestClient(
        create_app(ws, auth=False, allowed_hosts=["testserver"], web_dist=tmp_path / "none")
    )
    return client, ws.catalog.item_ids(ds.id)


def test_add_change_delete_and_undo(served: tuple[TestClient, list[int]]) -> None:
    client, ids = served
    url = f"/api/datasets/d/items/{ids[0]}/labels"
    box = {"kind": "box", "name": "dog", "geometry": {"bbox": [1, 2, 3, 4]}}
    added = client.post(url, json=box)
    assert added.status_code == 201, added.text
    body = added.json()
    [fox, dog] = body["labels"]
    assert (fox["name"], fox["source"], fox["area"]) == ("fox", "prediction", None)
    assert (dog["kind"], dog["area"], dog["author"], dog["geometry"]) == (
        "box",
        12.0,
        "bob",
        {"bbox": [1, 2, 3, 4]},
    )
    assert dog["id"] and dog["class_id"] and dog["created_at"]
    assert client.get(url).json()["labels"] == body["labels"]

    changed = client.patch(f"/api/datasets/d/labels/{dog['id']}", json={"name": "wolf"})
    assert changed.status_code == 200, changed.text
    assert [lab["name"] for lab in changed.json()["labels"]] == ["fox", "wolf"]
    history = client.get("/api/datasets/d/history").json()
    assert [h["action"] for h in history[:2]] == ["update_label", "add_label"]

    undone = client.post(f"/api/datasets/d/history/{changed.json()['change_set']}/undo", json={})
    assert undone.status_code == 200, undone.text
    assert [lab["name"] for lab in client.get(url).json()["labels"]] == ["fox", "dog"]

    deleted = client.delete(f"/api/datasets/d/labels/{dog['id']}")
    assert deleted.status_code == 200 and len(deleted.json()["labels"]) == 1


def test_put_replaces_the_ground_truth(served: tuple[TestClient, list[int]]) -> None:
    client, ids = served
    url = f"/api/datasets/d/items/{ids[1]}/labels"
    road = {"kind": "polyline", "name": "road", "geometry": {"lines": [[0, 0, 10, 10]]}}
    cat = {"kind": "classification", "name": "cat", "is_main": True}
    put = client.put(url, json={"labels": [road, cat]})
    assert put.status_code == 200, put.text
    assert [(lab["name"], lab["is_main"], lab["area"]) for lab in put.json()["labels"]] == [
        ("road", False, None),
        ("cat", True, None),
    ]
    again = client.put(url, json={"labels": [cat]}).json()
    assert [lab["name"] for lab in again["labels"]] == ["cat"] and again["change_set"]


def test_refusals_name_the_reason(served: tuple[TestClient, list[int]]) -> None:
    client, ids = served
    bad = {"kind": "polygon", "name": "cat", "geometry": {"polygons": [[0, 0, 1, 1]]}}
    answer = client.post(f"/api/datasets/d/items/{ids[0]}/labels", json=bad)
    assert answer.status_code == 422
    assert answer.json()["message"] == (
        f"item {ids[0]}: invalid polygon: part 1 has fewer than 3 points"
    )
    assert answer.json()["field"] == "geometry"
    missing = client.post("/api/datasets/d/items/999/labels", json={"kind": "box", "name": "x"})
    assert missing.status_code == 404 and "no item 999" in missing.json()["message"]
    assert client.delete("/api/datasets/d/labels/999").status_code == 404
    fox = client.get(f"/api/datasets/d/items/{ids[0]}/labels").json()["labels"][0]
    refused = client.delete(f"/api/datasets/d/labels/{fox['id']}")
    assert refused.status_code == 422 and "is a prediction" in refused.json()["message"]
    assert (
        client.post(
            f"/api/datasets/d/items/{ids[0]}/labels", json={"kind": "x", "name": "y"}
        ).status_code
        == 422
    )
