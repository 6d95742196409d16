"""The grid (``/api/datasets/{name}/items``) and the item detail view."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tagscope.service import _pages, browse


def _page(client: TestClient, **params: object) -> dict:
    r = client.get("/api/datasets/coco/items", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_first_page_has_urls_chips_and_total(client: TestClient) -> None:
    page = _page(client, limit=10)
    assert page["total"] == 79
    assert len(page["items"]) == 10
    first = page["items"][0]
    assert first["thumbnail_url"].startswith(f"/api/items/{first['id']}/thumbnail")
    assert first["media_url"].startswith(f"/api/items/{first['id']}/media")
    assert first["name"].endswith(".jpg")
    assert first["media"]["width"] > 0
    assert any(it["labels"] for it in page["items"])
    assert page["next_cursor"]


@pytest.mark.parametrize(
    ("sort", "order"), [("id", "asc"), ("id", "desc"), ("size", "desc"), ("path", "asc")]
)
def test_cursor_pages_cover_every_item_once_in_order(
    client: TestClient, sort: str, order: str
) -> None:
    seen, cursor = [], None
    while True:
        page = _page(
            client, sort=sort, order=order, limit=17, **({"cursor": cursor} if cursor else {})
        )
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 79
    assert len({it["id"] for it in seen}) == 79
    key = {"id": lambda it: it["id"], "size": lambda it: it["media"]["size"]}.get(
        sort, lambda it: it["path"]
    )
    keys = [key(it) for it in seen]
    assert keys == sorted(keys, reverse=order == "desc")


def test_offset_pages_match_cursor_pages(client: TestClient) -> None:
    first = _page(client, limit=20, sort="size")
    by_offset = _page(client, limit=20, offset=20, sort="size")
    by_cursor = _page(client, limit=20, sort="size", cursor=first["next_cursor"])
    assert [it["id"] for it in by_offset["items"]] == [it["id"] for it in by_cursor["items"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "password"}, "sort"),
        ({"order": "sideways"}, "order"),
        ({"limit": 0}, "limit"),
        ({"limit": 100000}, "limit"),
        ({"offset": -1}, "offset"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_grid_parameters_are_422_with_field(
    client: TestClient, params: dict, field: str
) -> None:
    r = client.get("/api/datasets/coco/items", params=params)
    assert r.status_code == 422
    assert r.json()["field"] == field


def test_cursor_of_another_sort_is_refused(client: TestClient) -> None:
    cursor = _page(client, limit=5, sort="size")["next_cursor"]
    r = client.get("/api/datasets/coco/items", params={"sort": "path", "cursor": cursor})
    assert r.status_code == 422
    assert r.json()["field"] == "cursor"


def test_grid_of_unknown_dataset_is_404(client: TestClient) -> None:
    assert client.get("/api/datasets/nope/items").status_code == 404


def test_item_detail_has_labels_with_geometry(client: TestClient) -> None:
    item_id = _page(client, limit=1)["items"][0]["id"]
    r = client.get(f"/api/items/{item_id}")
    assert r.status_code == 200
    detail = r.json()
    assert detail["dataset"] == "coco"
    assert detail["item"]["id"] == item_id
    boxes = [lab for lab in detail["labels"] if lab["kind"] == "box"]
    assert boxes and len(boxes[0]["geometry"]["bbox"]) == 4
    assert isinstance(detail["scores"], dict)


@pytest.mark.parametrize(("item_id", "status"), [(10**9, 404), ("abc", 422), (-1, 404)])
def test_item_detail_errors(client: TestClient, item_id: object, status: int) -> None:
    r = client.get(f"/api/items/{item_id}")
    assert r.status_code == status
    assert r.json()["status"] == status


def test_sql_filter_on_items_and_labels(client: TestClient) -> None:
    where = "has_label(id, 'dog') AND width >= 500"
    page = _page(client, where=where, limit=100)
    assert page["total"] == len(page["items"]) > 0
    for it in page["items"]:
        assert "dog" in it["labels"] and it["media"]["width"] >= 500
    everything = _page(client, limit=100)
    expected = [
        it["id"]
        for it in everything["items"]
        if "dog" in it["labels"] and it["media"]["width"] >= 500
    ]
    assert [it["id"] for it in page["items"]] == expected


def test_filtered_pages_follow_their_cursor(client: TestClient) -> None:
    where = "has_label(id, 'person')"
    seen, cursor = [], None
    while True:
        params = {"where": where, "limit": 7, "sort": "size", "order": "desc"}
        page = _page(client, **params, **({"cursor": cursor} if cursor else {}))
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == page["total"] == len({it["id"] for it in seen})
    sizes = [it["media"]["size"] for it in seen]
    assert sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("1 = 1; DROP TABLE items", "refused"),
        ("path IN (SELECT * FROM read_csv('/etc/passwd'))", "read_csv"),
        ("id IN (SELECT id FROM '/etc/passwd')", "refused"),
        ("width >", "syntax error"),
        ("no_such_column > 1", "no_such_column"),
        ("tags_nothing.dog > 0.5", "tags_nothing"),
    ],
)
def test_bad_filters_are_400_on_where(client: TestClient, where: str, words: str) -> None:
    r = client.get("/api/datasets/coco/items", params={"where": where})
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "where"
    assert words in r.json()["message"]


def test_cursor_of_another_filter_is_refused(client: TestClient) -> None:
    cursor = _page(client, where="width > 1", limit=5)["next_cursor"]
    r = client.get("/api/datasets/coco/items", params={"where": "width > 2", "cursor": cursor})
    assert r.status_code == 422 and r.json()["field"] == "cursor"


def test_filtered_cursor_survives_a_lost_snapshot(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that lost the listing's snapshot (restart, eviction) pages by offset."""
    where = "has_label(id, 'person')"
    first = _page(client, where=where, limit=10)
    second = _page(client, where=where, limit=10, cursor=first["next_cursor"])
    monkeypatch.setattr(browse, "_SNAPSHOTS", _pages.Snapshots())
    again = _page(client, where=where, limit=10, cursor=first["next_cursor"])
    assert [it["id"] for it in again["items"]] == [it["id"] for it in second["items"]]
    assert again["total"] == first["total"]
