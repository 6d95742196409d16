"""``/api/datasets/{name}/label-jobs``: create, items, done, submit, delete, refusals, over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.domain import Label, LabelKind, LabelSource, MediaInfo, NewItem
from tagscope.service import Workspace
from tagscope.service import collections as uc

URL = "/api/datasets/d/label-jobs"
PRE = LabelSource.PRELABEL


def _box(name: str, w: float, source: LabelSource = LabelSource.GROUND_TRUTH) -> Label:
    return Label(LabelKind.BOX, name, source, geometry={"bbox": [0, 0, w, 10]})


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, Workspace, list]:
    """Dataset ``d``: item 0 with an expert box and a narrower prelabel, item 1 with a predicted
    box; collection ``all`` of both."""
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    ws = Workspace.open(tmp_path / "ws")
    ds = ws.catalog.create_dataset("d")
    predicted = Label(
        LabelKind.BOX, "dog", LabelSource.PREDICTION, score=0.9, geometry={"bbox": [1, 1, 2, 2]}
    )
    labels = [(_box("cat", 10), _box("cat", 8, PRE)), (predicted,)]
    ws.catalog.add_items(
        ds.id,
        [
            NewItem(f"/d/{i}.jpg", MediaInfo(1, 20, 20, "JPEG", f"h{i}"), labels=lab)
            for i, lab in enumerate(labels)
        ],
    )
    ids = ws.catalog.item_ids(ds.id)
    uc.create_collection(ws, "d", "all", item_ids=ids)
    client = TestClient(
        create_app(ws, auth=False, allowed_hosts=["testserver"], web_dist=tmp_path / "none")
    )
    return client, ws, ids


def test_a_manual_job_is_labelled_and_submitted(served: tuple[TestClient, Workspace, list]) -> None:
    client, _, ids = served
    body = {"name": "fix", "kind": "manual", "collection": "all", "assignees": ["ann", "bob"]}
    made = client.post(URL, json=body)
    assert made.status_code == 201, made.text
    job = made.json()
    assert (job["kind"], job["status"], job["n_items"], job["assignees"]) == (
        "manual",
        "open",
        2,
        ["ann", "bob"],
    )
    items = client.get(f"{URL}/fix/items", params={"assignee": "ann"}).json()
    assert [(i["item_id"], i["assignee"]) for i in items] == [(ids[0], "ann")]
    assert items[0]["thumbnail_url"] == f"/api/items/{ids[0]}/thumbnail"
    assert [p["geometry"] for p in items[0]["prelabels"]] == [{"bbox": [0, 0, 8, 10]}]
    assert [e["name"] for e in items[0]["expert"]] == ["cat"]
    done = client.post(f"{URL}/fix/done", json={"item_ids": [ids[0]]})
    assert done.json() == {"n": 1}

    submitted = client.post(f"{URL}/fix/submit", json={"iou": 0.5})
    assert submitted.status_code == 200, submitted.text
    job = submitted.json()
    assert (job["status"], job["n_done"], job["params"]["iou"]) == ("submitted", 1, 0.5)
    assert job["changes"] == {"geometry_changed": 1}
    assert client.get(f"{URL}/fix").json()["changes"] == {"geometry_changed": 1}
    again = client.post(f"{URL}/fix/submit")
    assert again.status_code == 422 and "submitted already" in again.json()["message"]
    assert [j["name"] for j in client.get(URL).json()] == ["fix"]
    assert client.delete(f"{URL}/fix").status_code == 204
    assert client.get(URL).json() == []


def test_an_auto_job_from_predictions_and_its_undo(
    served: tuple[TestClient, Workspace, list],
) -> None:
    client, ws, ids = served
    body = {"name": "pre", "kind": "auto", "collection": "all", "source_labels": "prediction"}
    made = client.post(URL, json=body)
    assert made.status_code == 201, made.text
    job = made.json()
    assert (job["status"], job["params"]["n_prelabels"]) == ("done", 1)
    prelabels = [lab for lab in ws.catalog.item_labels(ids[1]) if lab.source == PRE]
    assert [(lab.name, lab.score) for lab in prelabels] == [("dog", 0.9)]
    undo = client.post(f"/api/datasets/d/history/{job['params']['change_set']}/undo", json={})
    assert undo.status_code == 200, undo.text
    assert [lab for lab in ws.catalog.item_labels(ids[1]) if lab.source == PRE] == []


def test_refusals_name_their_reason(served: tuple[TestClient, Workspace, list]) -> None:
    client, _, _ = served
    manual = {"name": "fix", "kind": "manual", "collection": "all"}
    assert client.post(URL, json=manual).status_code == 201
    taken = client.post(URL, json=manual)
    assert taken.status_code == 409 and "already" in taken.json()["message"]
    missing = client.post(URL, json={**manual, "name": "x", "collection": "nope"})
    assert missing.status_code == 404 and "nope" in missing.json()["message"]
    bad_iou = client.post(f"{URL}/fix/submit", json={"iou": 1.5})
    assert (bad_iou.status_code, bad_iou.json()["field"]) == (422, "iou")
    no_tag = client.post(URL, json={"name": "a", "kind": "auto", "collection": "all"})
    assert (no_tag.status_code, no_tag.json()["field"]) == (422, "tag")
    unknown = client.get(f"{URL}/nope")
    assert unknown.status_code == 404 and "no label job named 'nope'" in unknown.json()["message"]
    assert client.post(f"{URL}/fix/done", json={"item_ids": [10**9]}).status_code == 422
