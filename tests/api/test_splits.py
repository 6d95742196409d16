"""``POST /api/datasets/{name}/split``: the validation set over HTTP, undone from the history,
refused to a viewer."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.domain import MediaInfo, NewItem
from tagscope.service import Workspace, accounts

URL = "/api/datasets/d/split"


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, Workspace, list]:
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    ws = Workspace.open(tmp_path / "ws")
    ds = ws.catalog.create_dataset("d")
    ws.catalog.add_items(
        ds.id, [NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}")) for i in range(3)]
    )
    client = TestClient(
        create_app(ws, auth=False, allowed_hosts=["testserver"], web_dist=tmp_path / "none")
    )
    return client, ws, ws.catalog.item_ids(ds.id)


def _splits(client: TestClient) -> list[str | None]:
    rows = client.post("/api/sql", json={"sql": "SELECT split FROM items ORDER BY id"}).json()
    return [r[0] for r in rows["rows"]]


def test_validation_set_in_the_grid_and_sql_then_undone(
    served: tuple[TestClient, Workspace, list],
) -> None:
    client, _, ids = served
    answer = client.post(URL, json={"item_ids": ids[:2], "split": "validation"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["n_changed"] == 2
    grid = client.get("/api/datasets/d/items", params={"where": "split = 'validation'"}).json()
    assert [it["id"] for it in grid["items"]] == ids[:2]
    assert {it["split"] for it in grid["items"]} == {"validation"}
    assert _splits(client) == ["validation", "validation", None]
    history = client.get("/api/datasets/d/history").json()
    assert history[0]["action"] == "split"
    change_set = answer.json()["change_set"]
    undone = client.post(f"/api/datasets/d/history/{change_set}/undo", json={})
    assert undone.status_code == 200, undone.text
    assert _splits(client) == [None, None, None]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"item_ids": [1], "split": "holdout"}, "split"),
        ({"item_ids": [10**9], "split": "test"}, "item_ids"),
    ],
)
def test_bad_input_is_a_422(
    served: tuple[TestClient, Workspace, list], body: dict, field: str
) -> None:
    answer = served[0].post(URL, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field or field in answer.text


def test_a_viewer_is_refused(served: tuple[TestClient, Workspace, list], tmp_path: Path) -> None:
    _, ws, ids = served
    accounts.add_user(ws, "vera", "viewer-password", role=None)
    accounts.set_role(ws, "vera", "viewer", dataset="d")
    token = accounts.create_token(ws, "vera", "t", scope="read")[1]
    client = TestClient(create_app(ws, allowed_hosts=["testserver"], web_dist=tmp_path / "none"))
    answer = client.post(
        URL,
        json={"item_ids": ids, "split": "validation"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 403 and "labels.edit" in answer.json()["message"]
