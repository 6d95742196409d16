"""The unit of work on SQLite and (in CI) PostgreSQL: one transaction over the repositories,
files removed only after the commit."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tagscope.domain import AlreadyExistsError
from tagscope.domain.tags import Tag, Visibility
from tagscope.store import Catalog
from tagscope.store.uow import unit_of_work


@pytest.fixture()
def catalog(database_url: str) -> Catalog:
    return Catalog.connect(database_url)


def _names(catalog: Catalog) -> list[str]:
    return [d.name for d in catalog.list_datasets()]


def test_everything_commits_together(catalog: Catalog) -> None:
    with unit_of_work(catalog, "alice") as uow:
        ds = uow.catalog.create_dataset("a")
        group = uow.tags.create_group(
            ds.id, "animals", space="text", visibility=Visibility.SECRET, tags=[Tag("dog")]
        )
        uow.tags.add_tag(group.id, Tag("cat"))
        assert uow.actor == "alice"
    assert _names(catalog) == ["a"]
    assert [t.name for t in uow.tags.get_group("animals").tags] == ["dog", "cat"]


def test_an_error_rolls_back_every_step(catalog: Catalog) -> None:
    catalog.create_dataset("taken")
    clash = pytest.raises(AlreadyExistsError, match="'taken' already exists")
    with clash, unit_of_work(catalog, "alice") as uow:
        uow.catalog.create_dataset("first")
        uow.catalog.create_dataset("taken")  # the clash names itself, then all is undone
    assert _names(catalog) == ["taken"]
    with pytest.raises(RuntimeError), unit_of_work(catalog, "alice") as uow:
        uow.catalog.create_dataset("second")
        raise RuntimeError("killed mid-way")
    assert _names(catalog) == ["taken"]
    catalog.create_dataset("after")  # the catalog is usable after a rollback
    assert _names(catalog) == ["after", "taken"]


def test_a_nested_unit_of_work_joins_the_outer_one(catalog: Catalog) -> None:
    with pytest.raises(RuntimeError), unit_of_work(catalog, "alice"):
        with unit_of_work(catalog, "alice") as inner:
            inner.catalog.create_dataset("inner")
        assert _names(catalog) == ["inner"]  # visible inside the transaction
        raise RuntimeError
    assert _names(catalog) == []


def test_other_threads_keep_their_own_transactions(catalog: Catalog) -> None:
    seen: list[list[str]] = []
    with unit_of_work(catalog, "alice") as uow:
        uow.catalog.create_dataset("pending")
        worker = threading.Thread(target=lambda: seen.append(_names(catalog)))
        worker.start()
        worker.join()
        assert seen == [[]]  # not committed yet: another thread reads without it
    assert _names(catalog) == ["pending"]


def test_files_go_only_after_the_commit(catalog: Catalog, tmp_path: Path) -> None:
    kept, gone = tmp_path / "kept", tmp_path / "gone"
    for folder in (kept, gone):
        folder.mkdir()
        (folder / "vectors.npy").write_bytes(b"x")
    with pytest.raises(RuntimeError), unit_of_work(catalog, "alice") as uow:
        uow.remove_after_commit(kept)
        raise RuntimeError
    assert (kept / "vectors.npy").exists()
    with unit_of_work(catalog, "alice") as uow:
        uow.remove_after_commit(gone, tmp_path / "never-existed.parquet")
        assert gone.exists()  # not before the commit
    assert not gone.exists() and kept.exists()
