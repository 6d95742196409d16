"""Collections (static, dynamic, frozen), each change undone, on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagscope.domain import (
    AlreadyExistsError,
    MediaInfo,
    NewItem,
    NotFoundError,
    SqlError,
    ValidationError,
)
from tagscope.domain.changes import UndoConflictError
from tagscope.domain.collections import CollectionKind
from tagscope.service import Workspace
from tagscope.service import collections as uc
from tagscope.service import history as hist
from tagscope.service.browse import list_items
from tagscope.service.datasets import create_dataset, delete_dataset
from tagscope.service.sql import run_sql


@pytest.fixture()
def ws(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("TAGSCOPE_DATABASE_URL", database_url)
    return Workspace.open(tmp_path / "ws")


def _dataset(ws: Workspace, name: str = "d", n: int = 5) -> list[int]:
    """Dataset ``name`` of ``n`` items of widths 100, 200, ...; their ids."""
    ds = create_dataset(ws, name)
    ws.catalog.add_items(
        ds.id,
        [
            NewItem(f"/{name}/{i}.jpg", MediaInfo(1, 100 * (i + 1), 10, "JPEG", f"{name}{i}"))
            for i in range(n)
        ],
    )
    return ws.catalog.item_ids(ds.id)


def _members(ws: Workspace, title: str, dataset: str = "d") -> list[int]:
    return uc.collection_item_ids(ws, dataset, title)


def test_a_static_collection_holds_its_items_and_each_change_is_undone(ws: Workspace) -> None:
    ids = _dataset(ws)
    made = uc.create_collection(ws, "d", " pets ", item_ids=ids[:2], description="cute")
    assert (made.title, made.kind, made.n_items, made.description) == (
        "pets",
        CollectionKind.STATIC,
        2,
        "cute",
    )
    assert uc.add_items(ws, "d", "pets", [ids[1], ids[3]]).n_items == 3
    assert uc.remove_items(ws, "d", "pets", [ids[0]]).n_items == 2
    assert _members(ws, "pets") == [ids[1], ids[3]]
    [removed, added, created] = hist.history(ws, "d")
    assert [c.action for c in (removed, added, created)] == [
        "remove_from_collection",
        "add_to_collection",
        "create_collection",
    ]
    assert (added.n_changes, added.target) == (1, {"collection": "pets"})  # ids[1] was in
    hist.undo(ws, "d", removed.id)
    assert _members(ws, "pets") == [ids[0], ids[1], ids[3]]
    hist.undo(ws, "d", added.id)
    assert _members(ws, "pets") == ids[:2]
    hist.undo(ws, "d", created.id)
    assert uc.list_collections(ws, "d") == []
    hist.undo(ws, "d", hist.history(ws, "d")[0].id)  # undoing the undo creates it again
    again = uc.get_collection(ws, "d", "pets")
    assert (again.id, again.n_items, again.description) == (made.id, 2, "cute")


def test_a_dynamic_collection_is_evaluated_when_read_and_freezes(ws: Workspace) -> None:
    ids = _dataset(ws)
    wide = uc.create_collection(ws, "d", "wide", where="width > 250")
    assert (wide.kind, wide.filter, wide.n_items) == (CollectionKind.DYNAMIC, "width > 250", 3)
    assert uc.list_collections(ws, "d")[0].n_items is None  # not evaluated by a listing
    more = _dataset(ws, "e")  # another dataset's items never match
    ws.catalog.add_items(
        ws.dataset("d").id, [NewItem("/d/new.jpg", MediaInfo(1, 900, 10, "JPEG", "dnew"))]
    )
    new_id = max(ws.catalog.item_ids(ws.dataset("d").id))
    assert _members(ws, "wide") == [*ids[2:], new_id] and not set(more) & set(_members(ws, "wide"))
    with pytest.raises(ValidationError, match=r"dynamic .* freeze it first"):
        uc.add_items(ws, "d", "wide", ids[:1])
    frozen = uc.freeze(ws, "d", "wide")
    assert (frozen.kind, frozen.filter, frozen.n_items) == (CollectionKind.STATIC, None, 4)
    with pytest.raises(ValidationError, match="static already"):
        uc.freeze(ws, "d", "wide")
    uc.add_items(ws, "d", "wide", ids[:1])
    [_, freezing, *_] = hist.history(ws, "d")
    with pytest.raises(ValidationError, match=rf"1 item\(s\) added since \({ids[0]}\)"):
        hist.undo(ws, "d", freezing.id)  # it would leave ids[0] in a dynamic collection
    hist.undo(ws, "d", hist.history(ws, "d")[0].id)
    hist.undo(ws, "d", freezing.id)
    back = uc.get_collection(ws, "d", "wide")
    assert (back.kind, back.filter, back.n_items) == (CollectionKind.DYNAMIC, "width > 250", 4)


def test_delete_and_its_undo_bring_everything_back(ws: Workspace) -> None:
    ids = _dataset(ws)
    uc.create_collection(ws, "d", "pets", item_ids=ids[1:4])
    uc.delete_collection(ws, "d", "pets")
    with pytest.raises(NotFoundError, match="no collection titled 'pets'"):
        uc.get_collection(ws, "d", "pets")
    [deleted, _] = hist.history(ws, "d")
    assert (deleted.action, deleted.n_changes) == ("delete_collection", 4)  # record + 3 items
    hist.undo(ws, "d", deleted.id)
    assert _members(ws, "pets") == ids[1:4]


def test_undo_of_a_delete_is_refused_while_its_title_is_taken(ws: Workspace) -> None:
    ids = _dataset(ws)
    uc.create_collection(ws, "d", "pets", item_ids=ids[:1])
    uc.delete_collection(ws, "d", "pets")
    deleted = hist.history(ws, "d")[0]
    uc.create_collection(ws, "d", "pets", where="width > 0")
    with pytest.raises(AlreadyExistsError, match="collection titled 'pets' already"):
        hist.undo(ws, "d", deleted.id)
    assert uc.get_collection(ws, "d", "pets").kind == CollectionKind.DYNAMIC


def test_undo_of_added_items_removed_since_names_them(ws: Workspace) -> None:
    ids = _dataset(ws)
    uc.create_collection(ws, "d", "pets", item_ids=[])
    uc.add_items(ws, "d", "pets", ids[:2])
    added = hist.history(ws, "d")[0]
    uc.remove_items(ws, "d", "pets", ids[1:2])
    with pytest.raises(UndoConflictError, match=rf"\({ids[1]}\)"):
        hist.undo(ws, "d", added.id)
    assert hist.undo(ws, "d", added.id, force=True).skipped == (ids[1],)
    assert _members(ws, "pets") == []


def test_bad_input_is_refused_naming_it(ws: Workspace) -> None:
    ids = _dataset(ws)
    other = _dataset(ws, "e", 2)
    with pytest.raises(ValidationError, match=rf"2 item id\(s\) .* {other[0]}, {other[1]}"):
        uc.create_collection(ws, "d", "mixed", item_ids=[ids[0], *other])
    uc.create_collection(ws, "d", "pets", item_ids=ids[:1])
    with pytest.raises(ValidationError, match=rf"not items of the dataset: {other[0]}"):
        uc.add_items(ws, "d", "pets", [other[0]])
    with pytest.raises(SqlError, match="no_such_column") as bad:
        uc.create_collection(ws, "d", "bad", where="no_such_column > 1")
    assert bad.value.field == "where"
    with pytest.raises(AlreadyExistsError, match="'pets' already"):
        uc.create_collection(ws, "d", "pets", where="width > 1")
    with pytest.raises(ValidationError, match="not both"):
        uc.create_collection(ws, "d", "x", where="width > 1", item_ids=ids)
    with pytest.raises(ValidationError, match="title"):
        uc.create_collection(ws, "d", "  ", item_ids=ids)
    assert [c.title for c in uc.list_collections(ws, "d")] == ["pets"]
    assert _members(ws, "pets") == ids[:1]
    assert len(hist.history(ws, "d")) == 1  # nothing refused was written
    uc.create_collection(ws, "e", "pets", item_ids=other)  # titles are per dataset


def test_deleting_the_dataset_removes_its_collections(ws: Workspace) -> None:
    ids = _dataset(ws)
    uc.create_collection(ws, "d", "pets", item_ids=ids)
    uc.create_collection(ws, "d", "wide", where="width > 1")
    delete_dataset(ws, "d")
    _dataset(ws)  # same name (and on SQLite the same reused id)
    assert uc.list_collections(ws, "d") == []
    with ws.uow() as uow:
        assert uow.collections.titles_of_items(ids) == {}


def test_sql_views_follow_every_change(ws: Workspace) -> None:
    ids = _dataset(ws)
    other = _dataset(ws, "e", 1)
    uc.create_collection(ws, "d", "pets", item_ids=ids[:2], description="cute")
    uc.create_collection(ws, "d", "wide", where="width > 350")
    uc.create_collection(ws, "e", "pets", item_ids=other)

    def rows(sql: str) -> list:
        return run_sql(ws, sql).rows

    assert rows(
        "SELECT dataset, title, description, kind, filter, n_items FROM collections "
        "ORDER BY dataset, title"
    ) == [
        ["d", "pets", "cute", "static", None, 2],
        ["d", "wide", "", "dynamic", "width > 350", None],
        ["e", "pets", "", "static", None, 1],
    ]
    member = "SELECT ci.item_id FROM collection_items ci JOIN collections c "
    member += "ON c.id = ci.collection_id WHERE c.dataset = 'd' ORDER BY 1"
    assert rows(member) == [[ids[0]], [ids[1]]]
    uc.freeze(ws, "d", "wide")  # seen by the next query of the same engine
    uc.remove_items(ws, "d", "pets", ids[:1])
    assert rows(member) == [[ids[1]], [ids[3]], [ids[4]]]
    in_pets = "SELECT id FROM items WHERE in_collection(id, 'pets') ORDER BY id"
    assert rows(in_pets) == [[ids[1]], [other[0]]]
    hist.undo(ws, "d", hist.history(ws, "d")[0].id)
    assert rows(in_pets) == [[ids[0]], [ids[1]], [other[0]]]
    delete_dataset(ws, "e")
    assert rows("SELECT dataset, title, kind, n_items FROM collections ORDER BY title") == [
        ["d", "pets", "static", 2],
        ["d", "wide", "static", 2],
    ]


def test_the_grid_shows_and_filters_by_collection(ws: Workspace) -> None:
    ids = _dataset(ws)
    uc.create_collection(ws, "d", "pets", item_ids=ids[1:3])
    uc.create_collection(ws, "d", "it's", item_ids=ids[2:3])
    uc.create_collection(ws, "d", "wide", where="width > 250")
    page = list_items(ws, "d")
    assert [c.collections for c in page.items] == [[], ["pets"], ["it's", "pets"], [], []]

    def grid(title: str, where: str | None = None) -> list[int]:
        found = list_items(ws, "d", where=uc.grid_filter(ws, "d", title, where))
        return [c.item.id for c in found.items]

    assert grid("pets") == ids[1:3] and grid("it's") == ids[2:3]
    assert grid("wide") == ids[2:] and grid("wide", "width < 450") == ids[2:4]
    assert grid("pets", "width > 250") == ids[2:3]


def test_undo_of_a_create_after_a_freeze_is_refused(ws: Workspace) -> None:
    _dataset(ws)
    uc.create_collection(ws, "d", "wide", where="width > 250")
    created = hist.history(ws, "d")[0]
    uc.freeze(ws, "d", "wide")
    # The collection's own record (item 0 of the change-set) changed since: kind and filter.
    with pytest.raises(UndoConflictError) as refused:
        hist.undo(ws, "d", created.id)
    assert refused.value.items == []  # no item: the collection's own record
    assert "the record itself changed since" in str(refused.value)
    assert "item(s)" not in str(refused.value)
    assert uc.get_collection(ws, "d", "wide").kind == CollectionKind.STATIC
