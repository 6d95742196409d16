"""Review and result sets over HTTP: the summary, filtered changes, decisions and their undo,
saving, listing and deleting result sets, and the refusals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.service import Workspace

R = "/api/datasets/d/label-jobs/j/review"
RS = "/api/datasets/d/result-sets"


@pytest.fixture()
def served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, review_job: Callable
) -> tuple[TestClient, list[int], list[int]]:
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    ws = Workspace.open(tmp_path / "ws")
    items, ch = review_job(ws)
    client = TestClient(
        create_app(ws, auth=False, allowed_hosts=["testserver"], web_dist=tmp_path / "none")
    )
    return client, items, ch


def test_summary_changes_decide_and_undo(served: tuple[TestClient, list, list]) -> None:
    client, items, ch = served
    s = client.get(f"{R}/summary")
    assert s.status_code == 200, s.text
    body = s.json()
    assert body["tabs"] == {"pending": 7, "accepted": 0, "rejected": 0}
    assert body["table"][0] == {
        "expert_class": "cat",
        "class_changed": False,
        "pending": 2,
        "accepted": 0,
        "rejected": 0,
    }
    assert body["table"][-1]["expert_class"] is None
    assert body["changes"]["deleted"] == 1

    page = client.get(f"{R}/changes", params={"expert_class": "cat", "class_changed": "false"})
    assert page.status_code == 200, page.text
    got = page.json()
    assert got["total"] == 2 and [c["id"] for c in got["changes"]] == [ch[0], ch[2]]
    first = got["changes"][1]
    assert first["thumbnail"] == f"/api/items/{items[1]}/thumbnail"
    assert (first["path"], first["width"], first["height"], first["adjustment"]) == (
        "/d/1.jpg",
        100,
        80,
        2.0,
    )
    assert first["expert"]["geometry"] == {"bbox": [0, 0, 20, 10]}
    blank = client.get(f"{R}/changes", params={"expert_class": "", "status": "pending"})
    assert blank.json()["total"] == 7  # an empty value filters nothing

    cell = {"decision": "accepted", "status": "pending", "expert_class": "cat"}
    done = client.post(f"{R}/decide", json={**cell, "class_changed": False})
    assert done.status_code == 200, done.text
    assert done.json()["n_changed"] == 2
    by_ids = client.post(f"{R}/decide", json={"decision": "rejected", "ids": [ch[4]]}).json()
    assert by_ids["n_changed"] == 1
    tabs = client.get(f"{R}/summary").json()["tabs"]
    assert tabs == {"pending": 4, "accepted": 2, "rejected": 1}
    undo = client.post(f"/api/datasets/d/history/{done.json()['change_set']}/undo", json={})
    assert undo.status_code == 200, undo.text
    assert client.get(f"{R}/summary").json()["tabs"] == {"pending": 6, "accepted": 0, "rejected": 1}


@pytest.mark.parametrize(
    ("url", "body", "code", "words"),
    [
        (f"{R}/decide", {"decision": "done"}, 422, "decision"),
        (f"{R}/decide", {"decision": "accepted", "ids": [10**9]}, 422, str(10**9)),
        (f"{R}/decide", {"decision": "accepted", "colour": "red"}, 422, "colour"),
        ("/api/datasets/d/label-jobs/nope/review/decide", {"decision": "accepted"}, 404, "nope"),
    ],
)
def test_bad_decisions_are_refused(
    served: tuple[TestClient, list, list], url: str, body: dict, code: int, words: str
) -> None:
    client = served[0]
    r = client.post(url, json=body)
    assert r.status_code == code, r.text
    assert words in r.text
    assert client.get(f"{R}/summary").json()["tabs"]["pending"] == 7


def test_a_bad_filter_names_the_input(served: tuple[TestClient, list, list]) -> None:
    r = served[0].get(f"{R}/changes", params={"group_by": "item"})
    assert r.status_code == 422 and r.json()["field"] == "group_by"


def test_result_sets_saved_listed_and_deleted(served: tuple[TestClient, list, list]) -> None:
    client, _, ch = served
    client.post(f"{R}/decide", json={"decision": "accepted", "ids": [ch[0], ch[3]]})
    made = client.post(RS, json={"name": "good", "job": "j", "description": "x"})
    assert made.status_code == 201, made.text
    got = made.json()
    assert (got["n_items"], got["n_labels"], got["n_pending"], got["view"]) == (2, 2, 5, "rs_good")
    assert client.post(RS, json={"name": "good", "job": "j"}).status_code == 409
    bad = client.post(RS, json={"name": "Bad-Name", "job": "j"})
    assert bad.status_code == 422 and bad.json()["field"] == "name"
    [listed] = client.get(RS).json()
    assert (listed["name"], listed["job"], listed["description"]) == ("good", "j", "x")
    sql = client.post("/api/sql", json={"sql": "SELECT count(*) AS n FROM rs_good"})
    assert sql.json()["rows"] == [[2]]
    assert client.delete(f"{RS}/good").status_code == 204
    assert client.get(RS).json() == []
    assert client.delete(f"{RS}/good").status_code == 404
