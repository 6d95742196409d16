"""The SQL engine's copy of the catalog: incremental refreshes that see re-created datasets and
edits in place, and the snapshot that lets the next process start from it (SQLite and, in CI,
PostgreSQL)."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest

from tagscope.domain import Label, LabelKind, MediaInfo, NewItem
from tagscope.store import Catalog, sql_catalog
from tagscope.store.sql_catalog import INTERNAL, CatalogCopy


@pytest.fixture()
def catalog(database_url: str) -> Catalog:
    return Catalog.connect(database_url)


def _add(catalog: Catalog, dataset_id: int, *names: str, **metadata: object) -> None:
    catalog.add_items(
        dataset_id,
        [
            NewItem(
                n,
                MediaInfo(10, 4, 3, "JPEG", f"h-{n}"),
                metadata=metadata,
                labels=(Label(LabelKind.CLASSIFICATION, f"label-{n}"),),
            )
            for n in names
        ],
    )


def _copy(catalog: Catalog, snapshot: Path | None = None) -> CatalogCopy:
    copy = CatalogCopy(duckdb.connect(), catalog, snapshot)
    copy.refresh()
    return copy


def _paths(copy: CatalogCopy) -> list[tuple[str, str, str | None]]:
    return copy.con.execute(
        f"SELECT d.name, i.path, i.text FROM {INTERNAL}.items i "
        f"JOIN {INTERNAL}.datasets d ON d.id = i.dataset_id ORDER BY i.path"
    ).fetchall()


def _labels(copy: CatalogCopy) -> list[str]:
    rows = copy.con.execute(f"SELECT name FROM {INTERNAL}.labels ORDER BY name").fetchall()
    return [r[0] for r in rows]


def test_a_dataset_recreated_under_its_name_shows_only_its_items(catalog: Catalog) -> None:
    first = catalog.create_dataset("cats")
    _add(catalog, first.id, "old-1.jpg", "old-2.jpg")
    copy = _copy(catalog)
    catalog.delete_dataset(first.id)
    again = catalog.create_dataset("cats")  # SQLite may hand out the same ids again
    _add(catalog, again.id, "new-1.jpg", "new-2.jpg", "new-3.jpg")
    copy.refresh()
    assert _paths(copy) == [("cats", f"new-{i}.jpg", None) for i in (1, 2, 3)]
    assert _labels(copy) == [f"label-new-{i}.jpg" for i in (1, 2, 3)]


def test_text_edited_in_place_shows_at_the_next_refresh(catalog: Catalog) -> None:
    ds = catalog.create_dataset("dogs")
    other = catalog.create_dataset("birds")
    _add(catalog, ds.id, "a.jpg", "b.jpg")
    _add(catalog, other.id, "c.jpg")
    copy = _copy(catalog)
    a = catalog.existing_paths(ds.id, ["a.jpg"])["a.jpg"]
    catalog.update_item_text({a: "a dog on a beach"})
    fetched = copy.rows_fetched
    copy.refresh()
    assert _paths(copy) == [
        ("dogs", "a.jpg", "a dog on a beach"),
        ("dogs", "b.jpg", None),
        ("birds", "c.jpg", None),
    ]
    # Only the edited dataset was fetched again (2 items, 2 labels), not the birds.
    assert copy.rows_fetched - fetched == 4
    assert sorted(_labels(copy)) == ["label-a.jpg", "label-b.jpg", "label-c.jpg"]


def test_items_are_copied_a_slice_at_a_time(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10M items do not fit the engine's memory twice: they come a slice at a time, and a
    snapshot streams out and back in; every item is there once, a new metadata field too."""
    monkeypatch.setattr(sql_catalog, "LOAD_ROWS", 3)
    ds = catalog.create_dataset("many")
    _add(catalog, ds.id, *(f"{i:02d}.jpg" for i in range(10)))
    _add(catalog, ds.id, "late.jpg", series_name="Coast")  # in the last slice
    snapshot = tmp_path / "cache" / "sql-catalog.duckdb"
    first = _copy(catalog, snapshot)
    want = [("many", f"{i:02d}.jpg", None) for i in range(10)] + [("many", "late.jpg", None)]
    assert _paths(first) == want and first.rows_fetched == 22
    again = _copy(catalog, snapshot)
    assert _paths(again) == want and again.rows_fetched == 0
    assert len(_labels(again)) == 11
    series = again.con.execute(
        f"SELECT path FROM {INTERNAL}.items WHERE series_name = 'Coast'"
    ).fetchall()
    assert series == [("late.jpg",)]


def test_the_next_copy_starts_from_the_snapshot(catalog: Catalog, tmp_path: Path) -> None:
    snapshot = tmp_path / "cache" / "sql-catalog.duckdb"
    ds = catalog.create_dataset("shows")
    _add(catalog, ds.id, "e1.jpg", "e2.jpg", series_name="Coast", episode=3)
    first = _copy(catalog, snapshot)
    assert first.rows_fetched == 4 and snapshot.is_file()

    unchanged = _copy(catalog, snapshot)
    assert unchanged.rows_fetched == 0
    assert _paths(unchanged) == _paths(first)
    columns = [r[0] for r in unchanged.con.execute(f"DESCRIBE {INTERNAL}.items").fetchall()]
    assert {"series_name", "episode", "video_id"} <= set(columns)
    episode = unchanged.con.execute(f"SELECT DISTINCT episode FROM {INTERNAL}.items").fetchall()
    assert episode == [(3,)]

    _add(catalog, ds.id, "e3.jpg")
    grown = _copy(catalog, snapshot)
    assert grown.rows_fetched == 2  # the new item and its label
    assert [p for _, p, _ in _paths(grown)] == ["e1.jpg", "e2.jpg", "e3.jpg"]
    assert _copy(catalog, snapshot).rows_fetched == 0  # and that was saved too


def test_changes_made_after_the_snapshot_are_seen(catalog: Catalog, tmp_path: Path) -> None:
    snapshot = tmp_path / "sql-catalog.duckdb"
    gone, kept = catalog.create_dataset("gone"), catalog.create_dataset("kept")
    _add(catalog, gone.id, "g.jpg")
    _add(catalog, kept.id, "k.jpg")
    _copy(catalog, snapshot)
    catalog.delete_dataset(gone.id)
    k = catalog.existing_paths(kept.id, ["k.jpg"])["k.jpg"]
    catalog.update_item_text({k: "kept, with a caption"})
    later = _copy(catalog, snapshot)
    assert _paths(later) == [("kept", "k.jpg", "kept, with a caption")]
    assert _labels(later) == ["label-k.jpg"]


def test_a_snapshot_of_another_catalog_is_ignored(
    catalog: Catalog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot = tmp_path / "sql-catalog.duckdb"
    elsewhere = Catalog.connect(f"sqlite:///{tmp_path / 'other.db'}")
    _add(elsewhere, elsewhere.create_dataset("theirs").id, "x.jpg")
    _copy(elsewhere, snapshot)
    _add(catalog, catalog.create_dataset("ours").id, "y.jpg")
    with caplog.at_level(logging.INFO, logger="tagscope.store.sql_catalog"):
        ours = _copy(catalog, snapshot)
    assert "another catalog" in caplog.text
    assert _paths(ours) == [("ours", "y.jpg", None)]
    assert ours.rows_fetched == 2


def test_a_corrupt_snapshot_is_ignored_and_replaced(
    catalog: Catalog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot = tmp_path / "sql-catalog.duckdb"
    snapshot.write_bytes(b"not a database, cut short by a crash")
    _add(catalog, catalog.create_dataset("ds").id, "z.jpg")
    with caplog.at_level(logging.WARNING, logger="tagscope.store.sql_catalog"):
        copy = _copy(catalog, snapshot)
    assert "ignoring the SQL catalog snapshot" in caplog.text
    assert _paths(copy) == [("ds", "z.jpg", None)]
    assert _copy(catalog, snapshot).rows_fetched == 0
