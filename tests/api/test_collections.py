"""``/api/datasets/{name}/collections`` and the grid's ``collection`` filter over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.domain import MediaInfo, NewItem
from tagscope.service import Workspace

URL = "/api/datasets/d/collections"


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, list, list]:
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    ws = Workspace.open(tmp_path / "ws")
    ids = {}
    for name in ("d", "e"):
        ds = ws.catalog.create_dataset(name)
        ws.catalog.add_items(
            ds.id,
            [
                NewItem(f"/{name}/{i}.jpg", MediaInfo(1, 100 * (i + 1), 1, "JPEG", f"{name}{i}"))
                for i in range(4)
            ],
        )
        ids[name] = ws.catalog.item_ids(ds.id)
    client = TestClient(
        create_app(ws, auth=False, allowed_hosts=["testserver"], web_dist=tmp_path / "none")
    )
    return client, ids["d"], ids["e"]


def test_create_read_edit_freeze_delete_and_undo(
    served: tuple[TestClient, list, list],
) -> None:
    client, ids, _ = served
    made = client.post(URL, json={"title": "pets", "item_ids": ids[:2], "description": "cute"})
    assert made.status_code == 201, made.text
    assert (made.json()["kind"], made.json()["n_items"]) == ("static", 2)
    wide = client.post(URL, json={"title": "wide", "where": "width > 250"})
    assert (wide.status_code, wide.json()["n_items"]) == (201, 2)
    listed = client.get(URL).json()
    assert [(c["title"], c["n_items"]) for c in listed] == [("pets", 2), ("wide", None)]
    assert client.post(f"{URL}/pets/items", json={"item_ids": [ids[3]]}).json()["n_items"] == 3
    removed = client.post(f"{URL}/pets/items/remove", json={"item_ids": [ids[0]]})
    assert removed.json()["n_items"] == 2
    detail = client.get(f"{URL}/wide").json()
    assert (detail["item_ids"], detail["n_items"], detail["kind"]) == (ids[2:], 2, "dynamic")
    frozen = client.post(f"{URL}/wide/freeze").json()
    assert (frozen["kind"], frozen["filter"], frozen["n_items"]) == ("static", None, 2)

    grid = client.get("/api/datasets/d/items", params={"collection": "pets"}).json()
    assert [it["id"] for it in grid["items"]] == [ids[1], ids[3]]
    assert grid["items"][1]["collections"] == ["pets", "wide"]
    narrowed = client.get(
        "/api/datasets/d/items", params={"collection": "pets", "where": "width < 300"}
    ).json()
    assert [it["id"] for it in narrowed["items"]] == [ids[1]]

    assert client.delete(f"{URL}/pets").status_code == 204
    assert client.get(f"{URL}/pets").status_code == 404
    [deleted, *_] = client.get("/api/datasets/d/history").json()
    assert deleted["action"] == "delete_collection"
    undone = client.post(f"/api/datasets/d/history/{deleted['id']}/undo", json={})
    assert undone.status_code == 200, undone.text
    assert client.get(f"{URL}/pets").json()["item_ids"] == [ids[1], ids[3]]


def test_errors(served: tuple[TestClient, list, list]) -> None:
    client, ids, other = served
    foreign = client.post(URL, json={"title": "x", "item_ids": [ids[0], other[1]]})
    assert foreign.status_code == 422 and str(other[1]) in foreign.json()["message"]
    assert foreign.json()["field"] == "items"
    bad = client.post(URL, json={"title": "x", "where": "no_such_column > 1"})
    assert bad.status_code == 400 and "no_such_column" in bad.json()["message"]
    assert bad.json()["field"] == "where"
    assert client.post(URL, json={"title": "x"}).status_code == 422
    assert client.post(URL, json={"title": "x", "item_ids": ids}).status_code == 201
    taken = client.post(URL, json={"title": "x", "where": "width > 1"})
    assert taken.status_code == 409 and "'x' already" in taken.json()["message"]
    dynamic = client.post(URL, json={"title": "y", "where": "width > 1"})
    assert dynamic.status_code == 201
    refused = client.post(f"{URL}/y/items", json={"item_ids": ids[:1]})
    assert refused.status_code == 422 and "freeze it first" in refused.json()["message"]
    unknown = client.get("/api/datasets/d/items", params={"collection": "nope"})
    assert unknown.status_code == 404
    assert client.get("/api/datasets/zz/collections").status_code == 404
