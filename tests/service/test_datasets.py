"""Deleting a dataset, on SQLite and (in CI) PostgreSQL: nothing of it survives, and a dataset
created afterwards under the same name (and, on SQLite, the same reused id) sees none of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tagscope.domain import Label, LabelKind, MediaInfo, NewItem, NotFoundError
from tagscope.service import Workspace, collections
from tagscope.service import datasets as uc
from tagscope.service import history as hist
from tagscope.service import tags as tags_uc
from tagscope.service.sql import list_tables, run_sql
from tagscope.store.scores import ScoreTables
from tagscope.store.tag_catalog import TagCatalog


@pytest.fixture()
def ws(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("TAGSCOPE_DATABASE_URL", database_url)
    return Workspace.open(tmp_path / "ws")


def _filled(ws: Workspace, name: str) -> list[int]:
    """A dataset with labelled items, vectors and a tag group ``<name>pets`` trained on it."""
    ds = uc.create_dataset(ws, name)
    label = Label(LabelKind.CLASSIFICATION, "dog")
    ws.catalog.add_items(
        ds.id,
        [
            NewItem(f"/{name}/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"{name}{i}"), labels=(label,))
            for i in range(3)
        ],
    )
    ws.catalog.ensure_space(ds.id, "text", "text", "minilm", 4)
    ids = ws.catalog.item_ids(ds.id)
    ws.vectors(ds, "text").append(np.array(ids), np.ones((3, 4), np.float32))
    tags_uc.create_group(ws, name, f"{name}pets", "dog")
    return ids


def _score(ws: Workspace, dataset: str, group: str, ids: list[int]) -> None:
    ScoreTables(ws.paths.scores).write(
        ws.dataset(dataset).id, group, 1, "visual", np.array(ids), ["dog"], np.ones((3, 1))
    )


def _sql_count(ws: Workspace, sql: str) -> int:
    return int(run_sql(ws, sql).rows[0][0])


def test_deleting_a_dataset_leaves_nothing_for_one_created_after(ws: Workspace) -> None:
    b_ids = _filled(ws, "b")
    a_ids = _filled(ws, "a")  # the last id: SQLite gives it again to the next dataset
    scores = ScoreTables(ws.paths.scores)
    # a applies b's group (shareable, as applying needs); both groups scored a and b.
    for ds, group in (("a", "apets"), ("b", "bpets")):
        tags_uc.set_visibility(ws, ds, group, "shareable")
    tc = TagCatalog(ws.catalog)
    tc.add_use(tc.get_group("bpets").id, ws.dataset("a").id)
    tc.add_use(tc.get_group("apets").id, ws.dataset("b").id)
    for group in ("apets", "bpets"):
        _score(ws, "a", group, a_ids)
        _score(ws, "b", group, b_ids)
    tags_uc.add_reviews(ws, "a", "bpets", "dog", {a_ids[0]: True})
    tags_uc.mark_items(ws, "a", "apets", "dog", a_ids[:2])
    collections.create_collection(ws, "a", "pets", item_ids=a_ids)
    collections.create_collection(ws, "a", "all", where="width > 0")
    assert _sql_count(ws, "SELECT count(*) FROM items WHERE dataset = 'a'") == 3  # cached copy
    assert _sql_count(ws, "SELECT count(*) FROM collection_items") == 3
    old = ws.dataset("a")

    uc.delete_dataset(ws, "a")
    new = uc.create_dataset(ws, "a")
    if ws.catalog.engine.dialect.name == "sqlite":
        assert new.id == old.id  # the reused id that used to inherit score tables

    assert new.n_items == 0 and ws.catalog.list_spaces(new.id) == []
    assert len(ws.vectors(new, "text")) == 0
    assert scores.dataset_folders(new.id) == []
    assert scores.versions(new.id, "bpets") == [] and scores.latest(new.id, "apets") is None
    with pytest.raises(NotFoundError):
        tc.get_group("apets")  # trained on the deleted dataset: gone, with its files
    assert not scores.folder("apets").exists()
    assert [u.dataset for u in tc.list_uses(group_id=tc.get_group("bpets").id)] == ["b"]
    assert tc.reviews(tc.get_group("bpets").tag("dog").id or 0) == {}
    assert hist.history(ws, "a") == []
    assert collections.list_collections(ws, "a") == []
    assert _sql_count(ws, "SELECT count(*) FROM collections") == 0
    assert _sql_count(ws, "SELECT count(*) FROM collection_items") == 0
    assert _sql_count(ws, "SELECT count(*) FROM items WHERE dataset = 'a'") == 0
    assert (
        _sql_count(
            ws,
            "SELECT count(*) FROM labels l JOIN items i ON i.id = l.item_id WHERE i.dataset = 'a'",
        )
        == 0
    )
    tables = list_tables(ws)
    assert not any(t.startswith("dt_apets") for t in tables) and "dt_bpets_visual" in tables
    assert _sql_count(ws, "SELECT count(*) FROM dt_bpets_visual") == 3  # b's rows only
    # b keeps everything of its own.
    assert ws.dataset("b").n_items == 3 and scores.versions(ws.dataset("b").id, "bpets") == [1]


def test_a_failed_deletion_keeps_the_files(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    _filled(ws, "a")
    ds = ws.dataset("a")

    def crash(dataset_id: int) -> None:
        raise RuntimeError("killed while deleting")

    monkeypatch.setattr(ws.catalog, "delete_dataset", crash)
    with pytest.raises(RuntimeError):
        uc.delete_dataset(ws, "a")
    assert len(ws.vectors(ds, "text")) == 3 and ws.dataset("a").n_items == 3


def test_files_a_crash_left_behind_do_not_reach_a_new_dataset(ws: Workspace) -> None:
    b_ids = _filled(ws, "b")
    ids = _filled(ws, "a")
    tc = TagCatalog(ws.catalog)
    tc.add_use(tc.get_group("apets").id, ws.dataset("b").id)
    _score(ws, "a", "apets", ids)
    _score(ws, "b", "apets", b_ids)
    ds = ws.dataset("a")
    ws.catalog.delete_dataset(ds.id)  # the catalog committed; the files stayed (a crash)
    scores = ScoreTables(ws.paths.scores)
    new = uc.create_dataset(ws, "c")
    assert scores.dataset_folders(new.id) == []
    assert len(ws.vectors(new, "text")) == 0
    # A new group of the deleted one's name starts without its scores of other datasets.
    ws.catalog.ensure_space(new.id, "text", "text", "minilm", 4)
    tags_uc.create_group(ws, "c", "apets", "dog")
    assert scores.versions(ws.dataset("b").id, "apets") == []
