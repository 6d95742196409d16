"""The grid (``/api/datasets/{name}/items``) and the item detail view."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.domain import Dataset, Label, LabelKind
from tagscope.service import Workspace, _pages, browse


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


@pytest.mark.parametrize(("sort", "order"), [("id", "asc"), ("size", "desc")])
def test_a_filtered_snapshot_grows_a_chunk_at_a_time(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, sort: str, order: str
) -> None:
    """The first page snapshots only the first chunk of matches; scrolling past it extends the
    snapshot (the cursors keep naming it) and sees every match once, in the order of offset
    pages."""
    monkeypatch.setattr(browse, "SNAPSHOT_CHUNK", 8)
    where, params = "width > 1", {"limit": 5, "sort": sort, "order": order}
    seen, tokens, cursor = [], [], None
    while True:
        page = _page(client, where=where, **params, **({"cursor": cursor} if cursor else {}))
        seen.extend(it["id"] for it in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        tokens.append(_pages.Cursor.decode(cursor, sort, order == "desc", _pages.digest(where)))
    total = page["total"]
    by_offset = [
        it["id"]
        for start in range(0, total, 20)
        for it in _page(client, where=where, limit=20, offset=start, sort=sort, order=order)[
            "items"
        ]
    ]
    assert total > 20 and seen == by_offset and len(set(seen)) == total
    assert all(t.snapshot == tokens[0].snapshot != "" for t in tokens)
    assert len(browse._SNAPSHOTS.get(tokens[0].snapshot)) == total


@pytest.fixture()
def two_datasets(
    workspace: Workspace, make_dataset: Callable[..., Dataset], imagenette: Path, tmp_path: Path
) -> tuple[TestClient, Dataset, Dataset]:
    """A server over two datasets of three photos each."""
    photos = sorted(imagenette.rglob("*.JPEG"))[:6]
    mine, other = make_dataset("mine", photos[:3]), make_dataset("other", photos[3:])
    app = create_app(
        workspace, auth=False, web_dist=tmp_path / "no-web", allowed_hosts=["testserver"]
    )
    return TestClient(app), mine, other


@pytest.mark.parametrize(
    "where",
    [
        "false) OR (dataset_id = {other}",
        "false) OR (true",
        "dataset_id <> 0) OR (1 = 1",
        "false --\n) OR (true",
        "false /* ) OR (true */",
        "id IN (SELECT id FROM items WHERE dataset = 'other')",
        "dataset = 'other'",
        "true) UNION ALL SELECT id, 0 FROM items WHERE (true",
        "true) ORDER BY 1 --",
        "true; SELECT * FROM items",
    ],
)
def test_a_filter_stays_inside_its_dataset(
    two_datasets: tuple[TestClient, Dataset, Dataset], where: str
) -> None:
    """No filter text returns another dataset's items: it matches the dataset's own, or is a 400."""
    client, mine, other = two_datasets
    r = client.get("/api/datasets/mine/items", params={"where": where.format(other=other.id)})
    if r.status_code == 400:
        assert r.json()["field"] == "where"
        return
    assert r.status_code == 200, r.text
    page = r.json()
    assert {it["dataset_id"] for it in page["items"]} <= {mine.id}
    assert page["total"] == len(page["items"]) <= 3


def test_breaking_out_of_the_filter_parentheses_widens_nothing(
    two_datasets: tuple[TestClient, Dataset, Dataset],
) -> None:
    client, _, other = two_datasets
    where = f"false) OR (dataset_id = {other.id}"
    page = client.get("/api/datasets/mine/items", params={"where": where}).json()
    assert (page["items"], page["total"]) == ([], 0)
    every = client.get("/api/datasets/mine/items", params={"where": "false) OR (true"}).json()
    assert every["total"] == 3


def test_config_gives_the_defaults_every_face_shares(client: TestClient) -> None:
    from tagscope.service import defaults

    config = client.get("/api/config").json()
    assert config["preview_size"] == defaults.PREVIEW_SIZE
    assert config["search_k"] == defaults.SEARCH_K
    assert config["similar_k"] == defaults.SIMILAR_K
    assert set(config["llm"]) == {"configured", "how_to"}
    assert "TAGSCOPE_LLM_URL" in config["llm"]["how_to"]


def test_dataset_names_its_semantic_default_space(client: TestClient) -> None:
    info = client.get("/api/datasets/coco").json()
    assert info["default_space"] == "text"
    assert all(s["semantic"] == (s["kind"] != "phash") for s in info["spaces"])


def test_similar_items_default_to_a_space_that_exists(client: TestClient) -> None:
    # No space given: the dataset's semantic space, not the use case's "clip" (absent here).
    item_id = _page(client, limit=1)["items"][0]["id"]
    r = client.get(f"/api/items/{item_id}/similar", params={"k": 3})
    assert r.status_code == 200, r.text
    assert len(r.json()) == 3 and item_id not in {h["item_id"] for h in r.json()}


def _label_counts_of_grid(client: TestClient, where: str) -> dict[str, int]:
    """Label counts read off the grid's own pages of ``where``: what the facets must say."""
    counts: dict[str, int] = {}
    for it in _page(client, where=where, limit=500)["items"]:
        for name in it["labels"]:
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def test_facet_counts_follow_the_filter(client: TestClient) -> None:
    whole = client.get("/api/datasets/coco").json()["labels"]
    where = "has_label(id, 'dining table')"  # 12 items, 5 with a person (39 in all)
    expected, total = _label_counts_of_grid(client, where), _page(client, where=where)["total"]
    r = client.get("/api/datasets/coco", params={"where": where})
    assert r.status_code == 200, r.text
    facets = r.json()["labels"]
    assert facets == expected
    assert facets["dining table"] == whole["dining table"] == total == 12
    assert (facets["person"], whole["person"]) == (5, 39) and set(facets) < set(whole)
    blank = client.get("/api/datasets/coco", params={"where": "  "}).json()["labels"]
    assert blank == whole


def test_facets_of_a_bad_filter_are_400_on_where(client: TestClient) -> None:
    r = client.get("/api/datasets/coco", params={"where": "no_such_column > 1"})
    assert r.status_code == 400 and r.json()["field"] == "where"
    assert "no_such_column" in r.json()["message"]


def test_facets_stay_inside_their_dataset(
    two_datasets: tuple[TestClient, Dataset, Dataset], workspace: Workspace
) -> None:
    client, mine, other = two_datasets
    for ds, name in ((mine, "ours"), (other, "theirs")):
        first = next(iter(workspace.catalog.iter_items(ds.id)))
        workspace.catalog.add_labels([(first.id, Label(LabelKind.CLASSIFICATION, name))])
    for where, labels in (
        (f"false) OR (dataset_id = {other.id}", {}),
        ("false) OR (true", {"ours": 1}),
        ("true", {"ours": 1}),
    ):
        r = client.get("/api/datasets/mine", params={"where": where})
        assert r.status_code == 200, r.text
        assert r.json()["labels"] == labels, where
