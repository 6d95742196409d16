"""``/api/datasets/{name}/ontology``: classes and questions over HTTP, a rename undone from the
history, and bulk classify with answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.domain import Label, LabelKind, MediaInfo, NewItem
from tagscope.service import Workspace
from tagscope.service import collections as uc

URL = "/api/datasets/d/ontology"


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, Workspace, list]:
    """Dataset ``d``: two items, the first classified ``cat``; collection ``all`` of them."""
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    ws = Workspace.open(tmp_path / "ws")
    ds = ws.catalog.create_dataset("d")
    cat = (Label(LabelKind.CLASSIFICATION, "cat", is_main=True),)
    ws.catalog.add_items(
        ds.id,
        [
            NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}"), labels=cat[: i == 0])
            for i in range(2)
        ],
    )
    ids = ws.catalog.item_ids(ds.id)
    uc.create_collection(ws, "d", "all", item_ids=ids)
    client = TestClient(
        create_app(ws, auth=False, allowed_hosts=["testserver"], web_dist=tmp_path / "none")
    )
    return client, ws, ids


def test_the_classes_of_an_imported_dataset(client: TestClient) -> None:
    found = client.get("/api/datasets/coco/ontology").json()
    names = {c["name"]: c for c in found["classes"]}
    assert {"person", "dog"} <= set(names) and found["questions"] == []
    assert all(c["n_labels"] > 0 and c["color"].startswith("#") for c in names.values())


def test_a_class_renamed_over_http_and_undone_from_the_history(served: tuple) -> None:
    client, ws, ids = served
    r = client.post(f"{URL}/classes", json={"name": "owl", "hotkey": "o"})
    assert r.status_code == 201 and (r.json()["name"], r.json()["hotkey"]) == ("owl", "o")
    r = client.patch(f"{URL}/classes/cat", json={"name": "lynx", "color": "#112233"})
    assert r.status_code == 200, r.text
    edited = r.json()
    assert (edited["name"], edited["color"], edited["n_labels"]) == ("lynx", "#112233", 1)
    assert [lab.name for lab in ws.catalog.item_labels(ids[0])] == ["lynx"]
    r = client.post(f"/api/datasets/d/history/{edited['change_set']}/undo", json={})
    assert r.status_code == 200, r.text
    assert [lab.name for lab in ws.catalog.item_labels(ids[0])] == ["cat"]
    assert [c["name"] for c in client.get(URL).json()["classes"]] == ["cat", "owl"]


def test_refusals_over_http(served: tuple) -> None:
    client, _, _ = served
    r = client.patch(f"{URL}/classes/cat", json={"name": "cat "})
    assert r.status_code == 200 and r.json()["change_set"] is None
    client.post(f"{URL}/classes", json={"name": "dog"})
    r = client.patch(f"{URL}/classes/cat", json={"name": "dog"})
    assert r.status_code == 409 and "cannot rename class 'cat' to 'dog'" in r.json()["message"]
    r = client.post(f"{URL}/classes", json={"name": "emu", "color": "blue"})
    assert r.status_code == 422 and r.json()["field"] == "color"
    r = client.delete(f"{URL}/classes/cat")
    assert r.status_code == 422 and "used by 1 label" in r.json()["message"]
    assert client.delete(f"{URL}/classes/dog").status_code == 204
    assert client.delete(f"{URL}/classes/dog").status_code == 404
    r = client.post(f"{URL}/questions", json={"name": "q", "kind": "radio"})
    assert r.status_code == 422 and "at least one option" in r.json()["message"]


def test_questions_and_bulk_classify_with_answers(served: tuple) -> None:
    client, ws, ids = served
    body = {"name": "pose", "kind": "radio", "options": ["sitting", "lying"], "required": True}
    r = client.post(f"{URL}/questions", json=body)
    assert r.status_code == 201 and r.json()["options"] == ["sitting", "lying"]
    bulk = "/api/datasets/d/bulk-classify"
    r = client.post(bulk, json={"collection": "all", "class": "owl", "answers": {"pose": "up"}})
    assert r.status_code == 422 and r.json()["field"] == "answers"
    assert "not one of its options: sitting, lying" in r.json()["message"]
    r = client.post(bulk, json={"collection": "all", "class": "owl", "label": "emu"})
    assert r.status_code == 422 and r.json()["field"] == "class"
    answers = {"pose": "lying"}
    r = client.post(bulk, json={"collection": "all", "class": "owl", "answers": answers})
    assert r.status_code == 200 and r.json()["n_changed"] == 1
    [label] = ws.catalog.item_labels(ids[1])
    assert (label.name, label.attributes) == ("owl", {"answers": answers})
    owl = next(c for c in client.get(URL).json()["classes"] if c["name"] == "owl")
    assert label.class_id == owl["id"] and owl["n_labels"] == 1
    assert client.delete(f"{URL}/questions/pose").status_code == 204
    assert client.get(URL).json()["questions"] == []
