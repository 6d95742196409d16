"""``/api/datasets/{name}/history``: list, read and undo change-sets over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.domain import MediaInfo, NewItem
from tagscope.service import Workspace
from tagscope.service import tags as uc
from tagscope.store.tag_catalog import TagCatalog


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, Workspace, list]:
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    ws = Workspace.open(tmp_path / "ws")
    ds = ws.catalog.create_dataset("d")
    ws.catalog.add_items(
        ds.id, [NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}")) for i in range(3)]
    )
    ws.catalog.ensure_space(ds.id, "text", "text", "minilm", 384)
    uc.create_group(ws, "d", "g", "dog\ncat")
    client = TestClient(create_app(ws, allowed_hosts=["testserver"], web_dist=tmp_path / "none"))
    return client, ws, ws.catalog.item_ids(ds.id)


REVIEWS = "/api/datasets/d/tag-groups/g/tags/dog/reviews"


def test_reviews_are_listed_read_and_undone(served: tuple[TestClient, Workspace, list]) -> None:
    client, ws, ids = served
    r = client.post(REVIEWS, json={"reviews": [{"item_id": ids[0], "label": True}]})
    assert r.status_code in (200, 201), r.text
    [entry] = client.get("/api/datasets/d/history").json()
    assert (entry["action"], entry["n_changes"], entry["actor"]) == ("review", 1, ws.actor)
    detail = client.get(f"/api/datasets/d/history/{entry['id']}").json()
    [change] = detail["changes"]
    assert (change["item_id"], change["before"], change["after"]["label"]) == (ids[0], None, True)

    undone = client.post(f"/api/datasets/d/history/{entry['id']}/undo", json={})
    assert undone.status_code == 200, undone.text
    assert undone.json()["n_restored"] == 1 and undone.json()["skipped"] == []
    assert undone.json()["change_set"]["undoes"] == entry["id"]
    dog = uc.get_group(ws, "g").tag("dog").id
    assert TagCatalog(ws.catalog).review_records(dog) == {}
    again = client.post(f"/api/datasets/d/history/{entry['id']}/undo", json={})
    assert again.status_code == 422 and "undone already" in again.json()["message"]


def test_an_undo_blocked_by_a_later_edit_is_409_naming_the_item(
    served: tuple[TestClient, Workspace, list],
) -> None:
    client, _ws, ids = served
    client.post(REVIEWS, json={"reviews": [{"item_id": i, "label": True} for i in ids[:2]]})
    client.post(REVIEWS, json={"reviews": [{"item_id": ids[1], "label": False}]})
    first = client.get("/api/datasets/d/history").json()[-1]["id"]
    r = client.post(f"/api/datasets/d/history/{first}/undo", json={})
    assert r.status_code == 409 and r.json()["items"] == [ids[1]]
    assert str(ids[1]) in r.json()["message"]
    forced = client.post(f"/api/datasets/d/history/{first}/undo", json={"force": True})
    assert forced.status_code == 200 and forced.json()["skipped"] == [ids[1]]


def test_unknown_dataset_and_change_set_are_404(served: tuple[TestClient, Workspace, list]) -> None:
    client, _ws, _ids = served
    assert client.get("/api/datasets/nope/history").status_code == 404
    assert client.get("/api/datasets/d/history/999").status_code == 404
    assert client.post("/api/datasets/d/history/999/undo", json={}).status_code == 404
    assert client.get("/api/datasets/d/history", params={"limit": 0}).status_code == 422
