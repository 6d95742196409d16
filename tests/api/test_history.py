"""``/api/datasets/{name}/history``: list, read and undo change-sets over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.domain import MediaInfo, NewItem
from tagscope.domain.access import Identity, Role
from tagscope.service import Workspace, accounts
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
    client = TestClient(
        create_app(ws, auth=False, allowed_hosts=["testserver"], web_dist=tmp_path / "none")
    )
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


UNDO_USER = "/api/datasets/d/history/undo-user"


def test_history_by_user_and_since_and_undo_all_of_a_user(
    served: tuple[TestClient, Workspace, list],
) -> None:
    client, ws, ids = served
    alice = ws.acting_as(Identity(name="alice", role=Role.EDITOR, user_id=2))
    uc.add_reviews(alice, "d", "g", "dog", {ids[0]: True})
    since = datetime.now(UTC).isoformat()
    client.post(REVIEWS, json={"reviews": [{"item_id": ids[1], "label": True}]})  # the owner
    uc.add_reviews(alice, "d", "g", "dog", {ids[2]: True})
    uc.add_reviews(alice, "d", "g", "dog", {ids[2]: False})
    assert client.get("/api/datasets/d/history/actors").json() == sorted(["alice", ws.actor])
    mine = client.get("/api/datasets/d/history", params={"actor": "alice"}).json()
    assert [e["actor"] for e in mine] == ["alice"] * 3
    recent = client.get("/api/datasets/d/history", params={"actor": "alice", "since": since})
    assert recent.status_code == 200 and len(recent.json()) == 2
    assert datetime.fromisoformat(recent.json()[0]["created_at"]).tzinfo  # UTC, for browsers

    body = {"actor": "alice", "since": since}
    plan = client.post(UNDO_USER, json={**body, "dry_run": True}).json()
    assert plan["dry_run"] and plan["undone"] == [e["id"] for e in recent.json()]
    assert plan["change_sets"] == [] and plan["n_restored"] == 2
    assert len(client.get("/api/datasets/d/history").json()) == 4  # a dry run writes nothing
    done = client.post(UNDO_USER, json=body)
    assert done.status_code == 200, done.text
    assert done.json()["undone"] == plan["undone"] and len(done.json()["change_sets"]) == 2
    listed = {e["id"]: e for e in client.get("/api/datasets/d/history").json()}
    for new in done.json()["change_sets"]:
        assert (listed[new]["actor"], listed[new]["action"]) == (ws.actor, "undo")
    dog = uc.get_group(ws, "g").tag("dog").id
    assert set(TagCatalog(ws.catalog).review_records(dog)) == {ids[0], ids[1]}


def test_undo_user_blocked_by_another_users_edit_is_409_and_undoes_nothing(
    served: tuple[TestClient, Workspace, list],
) -> None:
    client, ws, ids = served
    alice = ws.acting_as(Identity(name="alice", role=Role.EDITOR, user_id=2))
    since = datetime.now(UTC).isoformat()
    uc.add_reviews(alice, "d", "g", "dog", {ids[0]: True})
    uc.add_reviews(alice, "d", "g", "dog", {ids[1]: True})
    client.post(REVIEWS, json={"reviews": [{"item_id": ids[1], "label": False}]})
    blocked = client.get("/api/datasets/d/history", params={"actor": "alice"}).json()[0]["id"]
    r = client.post(UNDO_USER, json={"actor": "alice", "since": since})
    assert r.status_code == 409, r.text
    assert r.json()["items"] == [ids[1]] and r.json()["change_sets"] == [blocked]
    assert f"change-set {blocked}" in r.json()["message"]
    assert len(client.get("/api/datasets/d/history").json()) == 3
    forced = client.post(UNDO_USER, json={"actor": "alice", "since": since, "force": True})
    assert forced.status_code == 200 and forced.json()["skipped"] == [ids[1]]
    bad = client.post(UNDO_USER, json={"actor": "alice", "since": "yesterday"})
    assert bad.status_code == 422
    assert client.get("/api/datasets/d/history", params={"since": "soon"}).status_code == 422


def test_only_an_admin_may_undo_a_users_changes(tmp_path: Path, served: tuple) -> None:
    _client, ws, ids = served
    accounts.add_user(ws, "root", "root-password", role="admin")
    accounts.add_user(ws, "eddie", "eddie-password", role="editor")
    tokens = {
        u: accounts.create_token(ws, u, "t", scope="admin" if u == "root" else "write")[1]
        for u in ("root", "eddie")
    }
    app = create_app(ws, allowed_hosts=["testserver"], web_dist=tmp_path / "none")
    client = TestClient(app)

    def as_user(user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[user]}"}

    since = datetime.now(UTC).isoformat()
    review = {"reviews": [{"item_id": ids[0], "label": True}]}
    assert client.post(REVIEWS, json=review, headers=as_user("eddie")).status_code in (200, 201)
    [entry] = client.get("/api/datasets/d/history", headers=as_user("eddie")).json()
    assert entry["actor"] == "eddie"  # the account, not the OS user
    body = {"actor": "eddie", "since": since}
    refused = client.post(UNDO_USER, json=body, headers=as_user("eddie"))
    assert refused.status_code == 403 and "(history.undo_user)" in refused.json()["message"]
    assert client.post(UNDO_USER, json=body).status_code == 401
    done = client.post(UNDO_USER, json=body, headers=as_user("root"))
    assert done.status_code == 200 and done.json()["undone"] == [entry["id"]]
    [undo, _] = client.get("/api/datasets/d/history", headers=as_user("root")).json()
    assert (undo["actor"], undo["undoes"], undo["params"]["user"]) == ("root", entry["id"], "eddie")
