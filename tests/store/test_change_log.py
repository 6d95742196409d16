"""The change log (migration 0007) on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from tagscope.domain import NotFoundError
from tagscope.domain.changes import Change
from tagscope.store import Catalog
from tagscope.store.change_log import ChangeLog
from tagscope.store.database import make_engine
from tagscope.store.uow import unit_of_work


@pytest.fixture()
def catalog(database_url: str) -> Catalog:
    return Catalog.connect(database_url)


def test_migration_adds_the_tables_and_downgrades(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from tagscope.store import database

    engine = make_engine(database_url)
    database.upgrade(engine)
    assert {"change_sets", "changes"} <= set(inspect(engine).get_table_names())
    cfg = Config()
    cfg.set_main_option("script_location", str(database._MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    assert "change_sets" not in inspect(engine).get_table_names()
    database.upgrade(engine)
    assert "changes" in inspect(engine).get_table_names()
    engine.dispose()


def test_record_read_and_list(catalog: Catalog) -> None:
    ds = catalog.create_dataset("d").id
    log = ChangeLog(catalog)
    changes = [
        Change(7, "review", "3", None, {"label": True}),
        Change(8, "review", "3", {"label": False}, None),
    ]
    first = log.record(ds, "alice", "review", changes, params={"n": 2}, target={"tag": "dog"})
    second = log.record(ds, "bob", "undo", [], undoes=first.id)
    got = log.get(ds, first.id)
    assert got.changes == tuple(changes)  # None stays None (SQL NULL), dicts round-trip
    assert (got.actor, got.action, got.params, got.target) == (
        "alice",
        "review",
        {"n": 2},
        {"tag": "dog"},
    )
    assert got.undone_by == second.id and log.get(ds, second.id).undoes == first.id
    listed = log.history(ds)
    assert [(c.id, c.n_changes) for c in listed] == [(second.id, 0), (first.id, 2)]
    other = catalog.create_dataset("other").id
    assert log.history(other) == []
    with pytest.raises(NotFoundError, match=f"no change-set {first.id}"):
        log.get(other, first.id)


def test_a_change_set_commits_with_its_unit_of_work_or_not_at_all(catalog: Catalog) -> None:
    ds = catalog.create_dataset("d").id
    with pytest.raises(RuntimeError), unit_of_work(catalog, "alice") as uow:
        uow.changes.record(ds, "alice", "review", [Change(1, "review", "1", None, {})])
        raise RuntimeError
    assert ChangeLog(catalog).history(ds) == []


def test_deleting_the_dataset_deletes_its_history(catalog: Catalog) -> None:
    ds = catalog.create_dataset("d").id
    ChangeLog(catalog).record(ds, "alice", "review", [Change(1, "review", "1", None, {})])
    catalog.delete_dataset(ds)
    again = catalog.create_dataset("d").id
    assert ChangeLog(catalog).history(again) == []


def test_history_by_actor_since_and_undoable(catalog: Catalog) -> None:
    ds = catalog.create_dataset("d").id
    log = ChangeLog(catalog)
    one = [Change(1, "review", "1", None, {})]
    first = log.record(ds, "alice", "review", [*one, Change(2, "review", "1", None, {})])
    bob = log.record(ds, "bob", "review", one)
    since = bob.created_at
    undone = log.record(ds, "alice", "review", one)
    undo = log.record(ds, "carol", "undo", one, undoes=undone.id)
    last = log.record(ds, "alice", "review", [])
    assert since.tzinfo is not None and log.get(ds, first.id).created_at.tzinfo is not None
    assert [c.id for c in log.history(ds, actor="alice")] == [last.id, undone.id, first.id]
    assert [c.n_changes for c in log.history(ds, actor="alice")] == [0, 1, 2]
    assert [c.id for c in log.history(ds, since=since)] == [last.id, undo.id, undone.id, bob.id]
    assert [c.id for c in log.history(ds, actor="alice", since=since, undoable=True)] == [last.id]
    undoable = [c.id for c in log.history(ds, undoable=True, limit=None)]
    assert undoable == [last.id, bob.id, first.id]  # neither the undo nor what it undid
    assert log.history(ds, limit=2, actor="alice")[-1].id == undone.id
    assert log.actors(ds) == ["alice", "bob", "carol"]
    assert log.actors(catalog.create_dataset("e").id) == []
