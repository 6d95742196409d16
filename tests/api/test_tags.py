"""Tag groups and tags: create from names, edit prompts and examples, thresholds, reviews."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.service import Workspace
from tagscope.service.imports import import_coco

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
    # A removal is a change-set of the dataset's history; its undo brings the tag back.
    [removed] = client.get("/api/datasets/coco/history", params={"limit": 1}).json()
    assert (removed["action"], removed["target"]) == (
        "remove_tag",
        {"group": "api animals", "tag": "bird"},
    )
    r = client.post(f"/api/datasets/coco/history/{removed['id']}/undo", json={})
    assert r.status_code == 200, r.text
    tags = client.get("/api/tag-groups/api animals").json()["tags"]
    assert [t["name"] for t in tags][-1:] == ["bird"]


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


# -- publishing, applying, preview, uncertain items, histogram, metrics ----------------------
PETS = f"{BASE}/pets"
DOG = f"{PETS}/tags/dog"


@pytest.fixture(scope="module")
def pets(client: TestClient, finish_job: Callable[[dict], dict]) -> dict:
    """A group "pets" (dog, cat) on coco's text space, shareable, with a live preview checked
    before it is published and scored."""
    r = client.post(BASE, json={"name": "pets", "tags": "dog\ncat", "space": "text"})
    assert r.status_code == 201, r.text
    live = client.get(f"{DOG}/preview", params={"n": 5}).json()
    assert live["live"] is True and live["version"] is None
    r = client.post(f"{PETS}/publish", json={"visibility": "shareable"})
    assert r.status_code == 202, r.text
    assert r.json()["kind"] == "score_tags"
    job = finish_job(r.json())
    assert job["status"] == "done", job
    return {"live": live, "job": job}


def test_publish_scores_the_dataset(client: TestClient, pets: dict) -> None:
    assert pets["job"]["result"]["n_scored"] == 79
    groups = {g["name"]: g for g in client.get(BASE).json()}
    scoring = groups["pets"]["scoring"]
    assert scoring["status"] == "scored" and scoring["version"] == 1
    assert scoring["is_training"] and not scoring["update_available"]
    assert groups["pets"]["state"] == "published" and groups["pets"]["visibility"] == "shareable"
    assert [v["version"] for v in client.get("/api/tag-groups/pets/versions").json()] == [1]


def test_preview_positives_score_above_negatives(client: TestClient, pets: dict) -> None:
    live = pets["live"]
    assert live["positives"] and live["negatives"]
    assert min(s["score"] for s in live["positives"]) >= live["threshold"]
    assert max(s["score"] for s in live["negatives"]) < live["threshold"]
    published = client.get(f"{DOG}/preview").json()
    assert published["stratified"] is True and published["version"] == 1
    only = client.get(f"{DOG}/preview", params={"view": "positives", "threshold": 0.9}).json()
    assert only["negatives"] == [] and only["threshold"] == 0.9


def test_marking_examples_changes_the_preview(client: TestClient, pets: dict) -> None:
    before = client.get(f"{PETS}/tags/cat/preview", params={"n": 50}).json()
    dog_hits = client.post(
        "/api/datasets/coco/search", json={"text": "a dog", "space": "text", "k": 3}
    ).json()
    ids = [h["item_id"] for h in dog_hits]
    r = client.post(f"{PETS}/tags/cat/examples", json={"item_ids": ids, "polarity": "positive"})
    assert r.json() == {"n": 3}
    after = client.get(f"{PETS}/tags/cat/preview", params={"n": 50}).json()
    assert after["live"] is True  # edited since publishing: refitted on the new definition
    assert after["n_positive"] != before["n_positive"] or after["positives"] != before["positives"]
    client.post(f"{PETS}/tags/cat/examples/remove", json={"item_ids": ids})


def test_uncertain_items(client: TestClient, pets: dict) -> None:
    r = client.get(f"{DOG}/uncertain", params={"n": 5})
    assert r.status_code == 200
    items = r.json()
    assert 1 <= len(items) <= 5
    assert all(0.0 <= s["score"] <= 1.0 and s["thumbnail_url"] for s in items)


def test_histogram_bins_carry_grid_filters(client: TestClient, pets: dict) -> None:
    h = client.get(f"{DOG}/histogram", params={"bins": 4}).json()
    assert len(h["bins"]) == 4 and sum(b["count"] for b in h["bins"]) == 79
    assert h["bins"][-1]["where"] == "tags_pets.dog >= 0.75 AND tags_pets.dog <= 1.0"
    assert h["where_tagged"].startswith("tags_pets.dog >= ")
    zoom = client.get(f"{DOG}/histogram", params={"bins": 5, "min_score": 0.5}).json()
    assert (
        zoom["bins"][0]["lo"] == 0.5
        and zoom["n_below"] + sum(b["count"] for b in zoom["bins"]) == 79
    )


def test_metrics_recommend_a_threshold(client: TestClient, pets: dict) -> None:
    m = client.get(f"{DOG}/metrics", params={"metric": "f0_5"}).json()
    assert m["metric"] == "f0_5" and m["recommended"]["metric"] == "f0_5"
    assert set(m["curves"]) == {"precision", "recall", "f1", "f0_5", "accuracy"}
    assert len(m["thresholds"]) == len(m["curves"]["f1"]) == 101
    assert m["n_positive"] > 0 and m["n_negative"] > 0
    assert 0.0 <= m["recommended"]["threshold"] <= 1.0


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("preview", {"threshold": 2}, "threshold"),
        ("preview", {"view": "sideways"}, "view"),
        ("uncertain", {"n": 0}, "n"),
        ("histogram", {"bins": 0}, "bins"),
        ("histogram", {"min_score": 1}, "min_score"),
        ("metrics", {"metric": "auc"}, "metric"),
    ],
)
def test_insight_bad_parameters(
    client: TestClient, pets: dict, path: str, params: dict, field: str
) -> None:
    r = client.get(f"{DOG}/{path}", params=params)
    assert r.status_code == 422
    assert r.json()["field"] == field


def test_histogram_before_publishing_says_so(client: TestClient, group: dict) -> None:
    r = client.get(f"{BASE}/api animals/tags/dog/histogram")
    assert r.status_code == 422
    assert "publish" in r.json()["message"]


def test_insights_of_unknown_tag_are_404(client: TestClient, pets: dict) -> None:
    for path in ("preview", "uncertain", "histogram", "metrics"):
        assert client.get(f"{PETS}/tags/unicorn/{path}").status_code == 404


def test_apply_a_shareable_group_to_another_dataset(
    client: TestClient,
    pets: dict,
    api_workspace: Workspace,
    coco_mini: Path,
    finish_job: Callable[[dict], dict],
) -> None:
    ann = coco_mini / "annotations"
    import_coco(
        api_workspace,
        "coco-train",
        ann / "instances_train2017.json",
        images=coco_mini / "train2017",
        captions=ann / "captions_train2017.json",
    )
    embedded = finish_job(
        client.post("/api/datasets/coco-train/embed", json={"kind": "text"}).json()
    )
    assert embedded["status"] == "done", embedded
    r = client.post("/api/datasets/coco-train/tag-groups/pets/apply")
    assert r.status_code == 202, r.text
    job = finish_job(r.json())
    assert job["status"] == "done", job
    assert job["result"]["n_scored"] == 80
    uses = {u["dataset"]: u for u in client.get("/api/tag-groups/pets/uses").json()}
    assert uses["coco-train"]["status"] == "scored" and not uses["coco-train"]["is_training"]
    edit = client.post(
        "/api/datasets/coco-train/tag-groups/pets/tags/dog/prompts", json={"text": "x"}
    )
    assert edit.status_code == 403


@pytest.mark.parametrize(
    ("dataset", "group", "status"),
    [("coco", "pets", 422), ("coco", "no such group", 404), ("nope", "pets", 404)],
)
def test_apply_bad_input(
    client: TestClient, pets: dict, dataset: str, group: str, status: int
) -> None:
    r = client.post(f"/api/datasets/{dataset}/tag-groups/{group}/apply")
    assert r.status_code == status, r.text


def test_histogram_bar_opens_the_filtered_grid(client: TestClient, pets: dict) -> None:
    bins = client.get(f"{DOG}/histogram", params={"bins": 4}).json()["bins"]
    top = bins[-1]
    page = client.get("/api/datasets/coco/items", params={"where": top["where"]}).json()
    assert page["total"] == top["count"] == len(page["items"])
    for it in page["items"]:
        assert top["lo"] <= it["scores"]["pets/dog"] <= top["hi"]


def test_grid_and_detail_carry_tag_scores(client: TestClient, pets: dict) -> None:
    page = client.get(
        "/api/datasets/coco/items", params={"sort": "tags_pets.dog", "order": "desc", "limit": 5}
    ).json()
    scores = [it["scores"]["pets/dog"] for it in page["items"]]
    assert scores == sorted(scores, reverse=True)
    best = page["items"][0]
    assert "pets/dog" in best["tags"]  # at or above the tag's threshold
    detail = client.get(f"/api/items/{best['id']}").json()
    assert detail["scores"]["pets/dog"] == scores[0] and "pets/cat" in detail["scores"]
    assert "pets/dog" in detail["tags"]


def test_saved_threshold_moves_the_servers_decisions_and_keeps_the_group_published(
    client: TestClient, pets: dict
) -> None:
    page = client.get(
        "/api/datasets/coco/items", params={"sort": "tags_pets.dog", "order": "desc", "limit": 500}
    ).json()
    # Another module's group may have a "dog" too (tags_judged.dog): this one is pets'.
    pets_dog = [
        t
        for it in page["items"]
        for t in it["tag_scores"]
        if (t["group"], t["tag"]) == ("pets", "dog")
    ]
    dog = sorted(pets_dog, key=lambda t: -t["score"])
    assert dog and {t["column"] for t in dog} == {"tags_pets.dog"}  # as the SQL views name it
    state = client.get("/api/tag-groups/pets").json()["state"]
    old = dog[0]["threshold"]
    # Between the 2nd and 3rd best scores: exactly two items decided positive.
    threshold = round((dog[1]["score"] + dog[2]["score"]) / 2, 6)
    try:
        r = client.put(f"{DOG}/threshold", json={"threshold": threshold})
        assert r.status_code == 200, r.text
        assert client.get("/api/tag-groups/pets").json()["state"] == state
        page = client.get(
            "/api/datasets/coco/items",
            params={"sort": "tags_pets.dog", "order": "desc", "limit": 500},
        ).json()
        decided = [
            t["decision"]
            for it in page["items"]
            for t in it["tag_scores"]
            if (t["group"], t["tag"]) == ("pets", "dog")
        ]
        assert decided.count(True) == 2 and decided[:2] == [True, True]
        groups = client.get("/api/datasets/coco/tag-groups").json()
        assert next(g for g in groups if g["name"] == "pets")["columns"]["dog"] == "tags_pets.dog"
    finally:
        client.put(f"{DOG}/threshold", json={"threshold": old})
