"""The collections repository (migration 0008) on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from tagscope.domain import AlreadyExistsError, MediaInfo, NewItem, ValidationError
from tagscope.domain.collections import CollectionKind
from tagscope.store import Catalog
from tagscope.store.collections import RECORD, CollectionCatalog
from tagscope.store.database import make_engine


@pytest.fixture()
def catalog(database_url: str) -> Catalog:
    return Catalog.connect(database_url)


def _items(catalog: Catalog, name: str, n: int = 3) -> tuple[int, list[int]]:
    ds = catalog.create_dataset(name)
    catalog.add_items(
        ds.id,
        [NewItem(f"/{name}/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"{name}{i}")) for i in range(n)],
    )
    return ds.id, catalog.item_ids(ds.id)


def test_migration_adds_the_tables_and_downgrades(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from tagscope.store import database

    engine = make_engine(database_url)
    database.upgrade(engine)
    assert {"collections", "collection_items"} <= set(inspect(engine).get_table_names())
    cfg = Config()
    cfg.set_main_option("script_location", str(database._MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    assert "collections" not in inspect(engine).get_table_names()
    database.upgrade(engine)
    assert "collection_items" in inspect(engine).get_table_names()
    engine.dispose()


def test_records_are_read_and_restored(catalog: Catalog) -> None:
    ds, ids = _items(catalog, "d")
    repo = CollectionCatalog(catalog)
    made = repo.create(ds, "pets", kind=CollectionKind.STATIC, description="cute")
    repo.restore(made.id, {ids[0]: {}, ids[1]: {}})
    states = repo.states(made.id, [RECORD, *ids])
    assert states[ids[0]] == states[ids[1]] == {} and ids[2] not in states
    assert (states[RECORD]["title"], states[RECORD]["kind"]) == ("pets", "static")
    assert repo.titles_of_items(ids) == {ids[0]: ["pets"], ids[1]: ["pets"]}
    record = states[RECORD]
    with pytest.raises(ValidationError, match=rf"2 item\(s\) added since \({ids[0]}, {ids[1]}\)"):
        repo.restore(made.id, {RECORD: None})  # a deletion that would drop unlisted items
    repo.restore(made.id, {RECORD: None, ids[0]: None, ids[1]: None})
    assert repo.list_collections(ds) == []
    repo.restore(made.id, {RECORD: record, ids[1]: {}})  # back under its id
    again = repo.get(ds, "pets")
    assert (again.id, again.n_items, again.description) == (made.id, 1, "cute")


def test_titles_are_unique_per_dataset_and_ids_are_not_reused(catalog: Catalog) -> None:
    ds, ids = _items(catalog, "d")
    other, other_ids = _items(catalog, "e")
    repo = CollectionCatalog(catalog)
    first = repo.create(ds, "pets", kind=CollectionKind.STATIC)
    with pytest.raises(AlreadyExistsError, match="'pets' already"):
        repo.create(ds, "pets", kind=CollectionKind.DYNAMIC, filter="width > 1")
    repo.create(other, "pets", kind=CollectionKind.STATIC)
    assert repo.missing_items(ds, [*ids, *other_ids, 10**9]) == [*other_ids, 10**9]
    last = repo.create(ds, "last", kind=CollectionKind.STATIC)
    repo.restore(last.id, {RECORD: None})
    # The change log names collections by id: a new one never gets a deleted one's.
    assert repo.create(ds, "new", kind=CollectionKind.STATIC).id > last.id > first.id
