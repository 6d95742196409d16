"""The SDK's lazy, immutable views on coco-mini (text space): the same items as the grid's
filters, the tag decisions at the saved threshold and the order of the similarity search."""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest

from tagscope.domain import NotFoundError, SqlError, ValidationError
from tagscope.sdk.view import View
from tagscope.sdk.workspace import Workspace as SdkWorkspace
from tagscope.service import Workspace, browse


def _grid_ids(ws: Workspace, where: str | None = None, **page: object) -> list[int]:
    return [c.item.id for c in browse.list_items(ws, "coco", where=where, **page).items]


def test_a_chained_view_leaves_its_parent_as_it_was(coco_text_ws: Workspace) -> None:
    ds = SdkWorkspace(coco_text_ws).dataset("coco")
    wide = ds.where("width > 500")
    n_wide = wide.count()
    narrower = wide.where_label("dog").sort_by("height").limit(2)
    assert len(wide.stages) == 1 and len(narrower.stages) == 4
    assert wide.count() == n_wide and narrower.count() <= 2 < n_wide
    assert ds.view().stages == () and ds.view().count() == len(ds) == 79
    with pytest.raises(dataclasses.FrozenInstanceError):
        wide.stages = ()  # type: ignore[misc]
    assert isinstance(narrower, View) and "Limit(n=2)" in repr(narrower)


@pytest.mark.parametrize(
    ("where", "page"),
    [
        ("width > 500", {}),
        ("has_label(id, 'person') AND height < 500", {"sort": "width", "descending": True}),
        ("split IS NULL OR size > 100000", {"sort": "size"}),
    ],
)
def test_a_view_holds_the_grids_items(coco_text_ws: Workspace, where: str, page: dict) -> None:
    ds = SdkWorkspace(coco_text_ws).dataset("coco")
    view = ds.where(where)
    if page:
        view = view.sort_by(page["sort"], descending=page.get("descending", False))
    grid = browse.list_items(coco_text_ws, "coco", where=where, limit=500, **page)
    assert view.ids() == [c.item.id for c in grid.items] and grid.items
    assert view.count() == grid.total
    assert [it.id for it in view.items()] == view.ids()


def test_where_label_is_has_label(coco_text_ws: Workspace) -> None:
    ds = SdkWorkspace(coco_text_ws).dataset("coco")
    dogs = ds.where_label("dog").ids()
    assert dogs == _grid_ids(coco_text_ws, "has_label(id, 'dog')", limit=500) and dogs
    either = ds.where_label("dog", "cat").ids()
    assert set(dogs) < set(either)
    assert either == _grid_ids(coco_text_ws, "has_label(id, 'dog') OR has_label(id, 'cat')")
    assert ds.where_label("dog", "cat", mode="all").count() <= len(dogs)


def test_where_tag_decides_at_the_saved_threshold(coco_text_ws: Workspace) -> None:
    ds = SdkWorkspace(coco_text_ws).dataset("coco")
    pets = ds.create_tag_group("pets", ["dog"])
    pets.publish(progress=False)
    cells = browse.list_items(coco_text_ws, "coco", limit=500).items
    by_id = {c.item.id: t.score for c in cells for t in c.tag_scores}
    ranked = sorted(by_id.values(), reverse=True)
    threshold = round((ranked[3] + ranked[4]) / 2, 6)  # exactly 4 items above it
    pets.save_threshold("dog", threshold)

    cells = browse.list_items(coco_text_ws, "coco", limit=500).items
    decided = [c.item.id for c in cells for t in c.tag_scores if t.decision]
    assert len(decided) == 4
    assert ds.where_tag("pets", "dog", decided=True).ids() == decided
    assert ds.where_tag("pets", "dog", above=threshold).ids() == decided
    undecided = ds.where_tag("pets", "dog", decided=False).ids()
    assert sorted(undecided + decided) == sorted(by_id)
    f32 = np.float32
    assert ds.where_tag("pets", "dog", above=0.2, below=threshold).ids() == [
        i for i in sorted(by_id) if f32(0.2) <= f32(by_id[i]) < f32(threshold)
    ]
    best = ds.sort_by("tags_pets.dog", descending=True).limit(4).ids()
    assert set(best) == set(decided)
    assert best == _grid_ids(coco_text_ws, sort="tags_pets.dog", descending=True, limit=4)
    with pytest.raises(SqlError, match="no scored tag 'cat'; its tags: dog"):
        ds.where_tag("pets", "cat", decided=True).ids()


def test_sort_by_similarity_keeps_the_search_order(coco_text_ws: Workspace) -> None:
    ds = SdkWorkspace(coco_text_ws).dataset("coco")
    item = ds.where_label("dog").ids()[0]
    hits = ds.similar(item, space="text", k=10)
    view = ds.sort_by_similarity(item, k=10)  # the dataset's one semantic space: text
    assert view.ids() == [h.item_id for h in hits]
    table = view.to_arrow().to_pydict()
    assert table["similarity"] == pytest.approx([h.score for h in hits])
    assert table["id"] == view.ids() and table["path"] == [h.path for h in hits]
    wide = {h.item_id for h in hits} & set(ds.where("width > 500").ids())
    narrowed = ds.where("width > 500").sort_by_similarity(item, k=10, space="text").ids()
    assert narrowed == [h.item_id for h in hits if h.item_id in wide]
    assert ds.sort_by_similarity(item, k=10).skip(2).limit(3).ids() == view.ids()[2:5]
    with pytest.raises(NotFoundError):
        ds.sort_by_similarity(item, space="clip").ids()


def test_limit_skip_count_and_sql(coco_text_ws: Workspace) -> None:
    ws = SdkWorkspace(coco_text_ws)
    ds = ws.dataset("coco")
    view = ds.where("height > 300").sort_by("width").skip(5).limit(10)
    expected = _grid_ids(coco_text_ws, "height > 300", sort="width", limit=10, offset=5)
    assert view.ids() == expected and len(expected) == 10
    assert view.count() == 10 and ds.skip(75).count() == 4 and ds.limit(0).ids() == []
    sql = view.sql()
    assert "LIMIT 10 OFFSET 5" in sql and "(height > 300)" in sql
    assert [r[0] for r in ws.sql(sql).rows] == expected  # it runs in the console as is
    with pytest.raises(ValidationError, match="before limit"):
        ds.limit(3).where("width > 1")


@pytest.mark.skipif(importlib.util.find_spec("pandas") is not None, reason="pandas installed")
def test_df_without_pandas_says_what_to_do(coco_text_ws: Workspace) -> None:
    ds = SdkWorkspace(coco_text_ws).dataset("coco")
    with pytest.raises(ImportError, match=r"needs pandas .*to_arrow\(\)"):
        ds.limit(1).df()


def test_a_view_of_filters_saves_as_a_dynamic_collection(coco_text_ws: Workspace) -> None:
    ds = SdkWorkspace(coco_text_ws).dataset("coco")
    view = ds.where("width > 500").where_label("person", "dog")
    saved = view.save_collection("big people and dogs", description="from a view")
    assert saved.kind == "dynamic" and saved.filter and "has_label" in saved.filter
    read = ds.collection("big people and dogs")
    assert read.n_items == view.count() > 0
    # The collection is the grid's filter: the grid shows the view's items for it.
    assert _grid_ids(coco_text_ws, saved.filter, limit=500) == view.ids()
    for unsaveable in (view.limit(3), view.sort_by("width"), ds.view()):
        with pytest.raises(ValidationError, match=r"collection|filter"):
            unsaveable.save_collection("nope")
    assert [c.title for c in ds.collections()] == ["big people and dogs"]
