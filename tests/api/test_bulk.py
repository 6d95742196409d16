"""``POST /api/datasets/{name}/bulk-classify``: dry run, run, undo, refusals, over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.domain import Label, LabelKind, MediaInfo, NewItem
from tagscope.service import Workspace
from tagscope.service import collections as uc

URL = "/api/datasets/d/bulk-classify"


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, Workspace, list]:
    """Dataset ``d``: three items, the first classified ``cat``; collection ``all`` of them."""
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    ws = Workspace.open(tmp_path / "ws")
    ds = ws.catalog.create_dataset("d")
    cat = (Label(LabelKind.CLASSIFICATION, "cat", is_main=True),)
    ws.catalog.add_items(
        ds.id,
        [
            NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}"), labels=cat[: i == 0])
            for i in range(3)
        ],
    )
    ids = ws.catalog.item_ids(ds.id)
    uc.create_collection(ws, "d", "all", item_ids=ids)
    client = TestClient(
        create_app(ws, auth=False, allowed_hosts=["testserver"], web_dist=tmp_path / "none")
    )
    return client, ws, ids


def _names(ws: Workspace, ids: list[int]) -> list[list[str]]:
    return [[lab.name for lab in ws.catalog.item_labels(i)] for i in ids]


def test_dry_run_run_and_undo(served: tuple[TestClient, Workspace, list]) -> None:
    client, ws, ids = served
    body = {"collection": "all", "label": "dog", "dry_run": True}
    dry = client.post(URL, json=body)
    assert dry.status_code == 200, dry.text
    assert dry.json() == {
        "n_changed": 2,
        "n_skipped": 1,
        "skipped": {"already classified": 1},
        "change_set": None,
        "dry_run": True,
    }
    assert _names(ws, ids) == [["cat"], [], []]
    done = client.post(URL, json={**body, "dry_run": False}).json()
    assert (done["n_changed"], done["n_skipped"]) == (2, 1)
    assert _names(ws, ids) == [["cat"], ["dog"], ["dog"]]
    [entry, *_] = client.get("/api/datasets/d/history").json()
    assert (entry["id"], entry["action"]) == (done["change_set"], "bulk_classify")
    r = client.post(f"/api/datasets/d/history/{done['change_set']}/undo", json={})
    assert r.status_code == 200, r.text
    assert _names(ws, ids) == [["cat"], [], []]


def test_a_selection_with_overwrite(served: tuple[TestClient, Workspace, list]) -> None:
    client, ws, ids = served
    r = client.post(URL, json={"item_ids": ids[:2], "label": "owl", "overwrite": True})
    assert r.status_code == 200, r.text
    assert r.json()["n_changed"] == 2
    assert _names(ws, ids) == [["owl"], ["owl"], []]


def test_bad_targets_are_refused(served: tuple[TestClient, Workspace, list]) -> None:
    client, ws, ids = served
    r = client.post(URL, json={"collection": "nope", "label": "dog"})
    assert r.status_code == 404 and "'nope'" in r.json()["message"]
    r = client.post(URL, json={"item_ids": [ids[0], 999_999], "label": "dog"})
    assert r.status_code == 422 and "999999" in r.json()["message"]
    assert r.json()["field"] == "items"
    r = client.post(URL, json={"label": "dog"})
    assert r.status_code == 422 and r.json()["field"] == "collection"
    assert _names(ws, ids) == [["cat"], [], []]
