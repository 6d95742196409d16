"""Tag groups and tags: create from names, edit prompts and examples, thresholds, reviews."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tagscope.service import Workspace

BASE = "/api/datasets/coco/tag-groups"


@pytest.fixture(scope="module")
def group(client: TestClient, api_workspace: Workspace) -> dict:
    r = client.post(
        BASE, json={"name": "api animals", "tags": "dog\ncat\n\nzebra", "space": "text"}
    )
    assert r.status_code == 201, r.text
    return r.json()


def _item_ids(client: TestClient, n: int) -> list[int]:
    page = client.get("/api/datasets/coco/items", params={"limit": n}).json()
    return [it["id"] for it in page["items"]]


def test_create_group_from_lines(group: dict) -> None:
    assert [t["name"] for t in group["tags"]] == ["dog", "cat", "zebra"]
    assert group["state"] == "draft" and group["dataset"] == "coco"
    assert group["table"] == "dt_api_animals_visual"
    dog = group["tags"][0]
    assert {"text": "dog", "polarity": "positive", "modality": "visual"}.items() <= dog["prompts"][
        0
    ].items()


def test_group_is_listed(client: TestClient, group: dict) -> None:
    assert group["name"] in [g["name"] for g in client.get(BASE).json()]
    assert group["name"] in [g["name"] for g in client.get("/api/tag-groups").json()]
    assert client.get("/api/tag-groups/api animals").json()["id"] == group["id"]


@pytest.mark.parametrize(
    ("body", "status", "field", "words"),
    [
        ({"name": "bad/name", "tags": "dog"}, 422, "group", "invalid group name"),
        ({"name": "g2", "tags": "dog\nhot-dog!"}, 422, "name", "line 2"),
        ({"name": "g3", "tags": "dog\nDog"}, 422, "names", "repeats line 1"),
        ({"name": "g4", "tags": "\n\n"}, 422, "names", "at least one"),
        ({"name": "g5", "tags": "dog", "visibility": "public"}, 422, "visibility", ""),
        ({"name": "g6", "tags": "dog", "space": "nope"}, 404, None, "nope"),
        ({"name": "api animals", "tags": "dog", "space": "text"}, 409, None, "exists"),
    ],
)
def test_create_group_bad_input(
    client: TestClient, group: dict, body: dict, status: int, field: str | None, words: str
) -> None:
    r = client.post(BASE, json=body)
    assert r.status_code == status, r.text
    assert r.json()["field"] == field
    assert words in r.json()["message"]


def test_create_group_on_unknown_dataset_is_404(client: TestClient) -> None:
    r = client.post("/api/datasets/nope/tag-groups", json={"name": "x", "tags": "dog"})
    assert r.status_code == 404


def test_unknown_group_and_tag_are_404(client: TestClient, group: dict) -> None:
    assert client.get("/api/tag-groups/no such group").status_code == 404
    r = client.post(f"{BASE}/api animals/tags/unicorn/prompts", json={"text": "a unicorn"})
    assert r.status_code == 404
    assert "no tag 'unicorn'" in r.json()["message"]


def test_prompt_add_edit_remove(client: TestClient, group: dict) -> None:
    url = f"{BASE}/api animals/tags/cat/prompts"
    r = client.post(url, json={"text": "a dog", "polarity": "negative"})
    assert r.status_code == 201
    prompt = r.json()
    assert prompt["polarity"] == "negative" and prompt["id"]
    r = client.patch(f"{url}/{prompt['id']}", json={"text": "a puppy"})
    assert r.json() == {**prompt, "text": "a puppy"}
    assert client.delete(f"{url}/{prompt['id']}").status_code == 204
    assert client.delete(f"{url}/{prompt['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [({"text": ""}, "text"), ({"text": "x", "polarity": "maybe"}, "polarity"), ({}, "text")],
)
def test_bad_prompt_is_422(client: TestClient, group: dict, body: dict, field: str) -> None:
    r = client.post(f"{BASE}/api animals/tags/cat/prompts", json=body)
    assert r.status_code == 422
    assert r.json()["field"] == field


def test_mark_and_unmark_examples(client: TestClient, group: dict) -> None:
    ids = _item_ids(client, 4)
    url = f"{BASE}/api animals/tags/zebra/examples"
    assert client.post(url, json={"item_ids": ids[:3]}).json() == {"n": 3}
    assert client.post(url, json={"item_ids": ids[2:], "polarity": "negative"}).json()["n"] == 2
    tag = client.get("/api/tag-groups/api animals").json()["tags"][2]
    assert {e["item_id"]: e["polarity"] for e in tag["examples"]} == {
        ids[0]: "positive",
        ids[1]: "positive",
        ids[2]: "negative",
        ids[3]: "negative",
    }
    assert client.post(f"{url}/remove", json={"item_ids": ids}).json() == {"n": 4}


@pytest.mark.parametrize(("item_ids", "status"), [([], 422), ([10**9], 422)])
def test_mark_bad_items(client: TestClient, group: dict, item_ids: list, status: int) -> None:
    r = client.post(f"{BASE}/api animals/tags/zebra/examples", json={"item_ids": item_ids})
    assert r.status_code == status


def test_threshold(client: TestClient, group: dict) -> None:
    url = f"{BASE}/api animals/tags/dog/threshold"
    assert client.put(url, json={"threshold": 0.62}).json()["threshold"] == 0.62
    r = client.put(url, json={"threshold": 1.5})
    assert r.status_code == 422 and r.json()["field"] == "threshold"


def test_reviews(client: TestClient, group: dict) -> None:
    ids = _item_ids(client, 2)
    url = f"{BASE}/api animals/tags/dog/reviews"
    body = {"reviews": [{"item_id": ids[0], "label": True}, {"item_id": ids[1], "label": False}]}
    assert client.post(url, json=body).json() == {"n": 2}
    r = client.post(url, json={"reviews": [{"item_id": 10**9, "label": True}]})
    assert r.status_code == 422 and r.json()["field"] == "items"


def test_add_rename_remove_tag(client: TestClient, group: dict) -> None:
    url = f"{BASE}/api animals/tags"
    names = [t["name"] for t in client.post(url, json={"names": "horse\nbird"}).json()["tags"]]
    assert names[-2:] == ["horse", "bird"]
    assert client.patch(f"{url}/horse", json={"name": "pony"}).json()["name"] == "pony"
    r = client.patch(f"{url}/pony", json={"name": "pony!"})
    assert r.status_code == 422 and r.json()["field"] == "name"
    assert client.delete(f"{url}/pony").status_code == 204
    assert client.delete(f"{url}/bird").status_code == 204
    assert client.delete(f"{url}/pony").status_code == 404


def test_visibility(client: TestClient, group: dict) -> None:
    url = f"{BASE}/api animals"
    assert client.patch(url, json={"visibility": "shareable"}).json()["visibility"] == "shareable"
    assert client.patch(url, json={"visibility": "public"}).status_code == 422


def test_editing_from_another_dataset_is_403(client: TestClient, group: dict) -> None:
    client.post("/api/datasets", json={"name": "other-ds"})
    r = client.post(
        "/api/datasets/other-ds/tag-groups/api animals/tags/dog/prompts", json={"text": "x"}
    )
    assert r.status_code == 403
    assert "cannot edit" in r.json()["message"] or "not edit" in r.json()["message"]
