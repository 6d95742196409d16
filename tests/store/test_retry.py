"""Units of work the database refused for a concurrent one run again (store/retry.py): two
conflicting ones both commit, one of them run twice; a unit of work refused every time gives a
clear error; callbacks after commit run once; a committed part is never run again; PostgreSQL
runs units of work SERIALIZABLE, plain reads READ COMMITTED, over a pool sized by the
environment."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from tagscope.domain import ValidationError, WriteConflictError
from tagscope.store import Catalog
from tagscope.store.catalog import _TURNS
from tagscope.store.database import make_engine
from tagscope.store.retry import conflict_reason, retries, retrying
from tagscope.store.schema import DatasetRow
from tagscope.store.uow import unit_of_work

pg_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture()
def catalog(database_url: str) -> Catalog:
    catalog = Catalog.connect(database_url)
    catalog.create_dataset("d", description="")
    return catalog


def _description(catalog: Catalog) -> str:
    with catalog.session() as s:
        return s.scalars(select(DatasetRow.description)).one()


def _set(session_or_conn: object, value: str) -> None:
    session_or_conn.execute(update(DatasetRow).values(description=value))  # type: ignore[attr-defined]


def _meddle(catalog: Catalog, value: str) -> None:
    """Another connection changes the description and commits: a concurrent writer."""
    with catalog.engine.begin() as conn:
        _set(conn, value)


@pg_only
def test_two_conflicting_units_of_work_both_commit_one_run_again(catalog: Catalog) -> None:
    both_read = threading.Barrier(2, timeout=30)
    attempts: list[str] = []
    before = retries()

    @retrying
    def append(letter: str) -> None:
        with catalog.transaction() as s:
            value = s.scalars(select(DatasetRow.description)).one()
            attempts.append(letter)
            if attempts.count(letter) == 1:  # first attempts: both read before either writes
                both_read.wait()
            _set(s, value + letter)

    threads = [threading.Thread(target=append, args=(x,)) for x in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # Read-modify-write by both: neither letter lost, as it would be without the refusal.
    assert sorted(_description(catalog)) == ["a", "b"]
    assert len(attempts) == 3 and retries() - before == 1


@pg_only
def test_refused_every_time_is_a_clear_error_and_changes_nothing(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAGSCOPE_DB_ATTEMPTS", "3")
    ran: list[int] = []

    @retrying
    def rename() -> None:
        with catalog.transaction() as s:
            s.scalars(select(DatasetRow.description)).one()  # what it read ...
            catalog.after_commit(lambda: ran.append(1))
            _meddle(catalog, f"other {len(ran)}")  # ... changes before it writes
            _set(s, "mine")

    refused = r"change \(rename\) could not be saved: the catalog refused it 3 times in a row"
    with pytest.raises(WriteConflictError, match=refused):
        rename()
    assert ran == [] and _description(catalog).startswith("other")


@pg_only
def test_a_unit_of_work_run_again_removes_its_files_once(catalog: Catalog, tmp_path: Path) -> None:
    doomed = tmp_path / "old.parquet"
    doomed.write_bytes(b"x")
    calls: list[int] = []

    @retrying
    def replace() -> None:
        calls.append(1)
        with unit_of_work(catalog, "alice") as uow:
            with catalog.session() as s:
                s.scalars(select(DatasetRow.description)).one()
            uow.remove_after_commit(doomed)
            catalog.after_commit(lambda: calls.append(100))
            if len(calls) == 1:
                _meddle(catalog, "theirs")
            with catalog.session() as s:
                _set(s, "mine")

    replace()
    # Two attempts; the callbacks of the refused one never ran, those of the second once.
    assert calls == [1, 1, 100]
    assert not doomed.exists() and _description(catalog) == "mine"


@pg_only
def test_a_call_inside_an_open_unit_of_work_lets_its_opener_run_again(catalog: Catalog) -> None:
    outer_runs: list[int] = []
    inner_runs: list[int] = []

    @retrying
    def inner() -> None:
        inner_runs.append(1)
        with catalog.transaction() as s:  # joins the outer one
            if len(inner_runs) == 1:
                _meddle(catalog, "theirs")
            _set(s, "inner")

    @retrying
    def outer() -> None:
        outer_runs.append(1)
        with catalog.transaction() as s:
            s.scalars(select(DatasetRow.description)).one()
            inner()

    outer()
    assert (len(outer_runs), len(inner_runs)) == (2, 2)
    assert _description(catalog) == "inner"


@pg_only
def test_a_use_case_is_not_run_again_after_a_part_committed(catalog: Catalog) -> None:
    runs: list[int] = []
    other = catalog.create_dataset("e", description="")

    @retrying
    def two_parts() -> None:
        runs.append(1)
        with catalog.transaction() as s:  # committed: running it again would write it twice
            s.execute(update(DatasetRow).where(DatasetRow.id == other.id).values(revision=7))
        with catalog.transaction() as s:
            s.scalars(select(DatasetRow.description)).first()
            _meddle(catalog, "theirs")
            _set(s, "mine")

    with pytest.raises(WriteConflictError, match=r"\(two_parts\) was saved only in part"):
        two_parts()
    assert runs == [1]


@pg_only
def test_units_of_work_run_serializable_and_plain_reads_read_committed(catalog: Catalog) -> None:
    level = "SELECT current_setting('transaction_isolation')"
    with catalog.transaction() as s:
        assert s.execute(text(level)).scalar_one() == "serializable"
    with catalog.session() as s:
        assert s.execute(text(level)).scalar_one() == "read committed"


def test_the_pool_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://u:p@localhost:1/none"  # no connection is opened
    monkeypatch.setenv("TAGSCOPE_DB_POOL_SIZE", "3")
    monkeypatch.setenv("TAGSCOPE_DB_MAX_OVERFLOW", "7")
    engine = make_engine(url)
    assert (engine.pool.size(), engine.pool._max_overflow) == (3, 7)  # type: ignore[attr-defined]
    assert engine.pool._pre_ping  # type: ignore[attr-defined]
    monkeypatch.setenv("TAGSCOPE_DB_POOL_SIZE", "many")
    with pytest.raises(ValidationError, match=r"TAGSCOPE_DB_POOL_SIZE must be a whole number"):
        make_engine(url)


def test_bad_attempts_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAGSCOPE_DB_ATTEMPTS", "0")

    @retrying
    def nothing() -> None:
        pass

    with pytest.raises(ValidationError, match="TAGSCOPE_DB_ATTEMPTS must be"):
        nothing()


def test_a_locked_sqlite_database_is_a_conflict_other_errors_are_not(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError) as locked:
        waiter.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError) as missing:
        waiter.execute("SELECT * FROM nowhere")
    holder.close()
    waiter.close()
    assert conflict_reason(locked.value) == "the database being locked"
    assert conflict_reason(missing.value) is None


def test_an_error_that_is_no_conflict_is_not_run_again() -> None:
    runs: list[int] = []

    @retrying
    def broken() -> None:
        runs.append(1)
        raise ValidationError("bad input", field="x")

    with pytest.raises(ValidationError, match="bad input"):
        broken()
    assert runs == [1]


@pg_only
def test_while_one_runs_alone_a_new_unit_of_work_runs_after_it(catalog: Catalog) -> None:
    before = retries()
    done = threading.Event()

    @retrying
    def write() -> None:
        with catalog.transaction() as s:
            _set(s, "after")
        done.set()

    with catalog.engine.connect() as alone:  # a re-run holding the lock exclusive
        alone.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _TURNS})
        thread = threading.Thread(target=write)
        thread.start()
        assert not done.wait(1.0)  # it waits its turn ...
        alone.rollback()
    thread.join(30)
    # ... and ran once it came: its first attempt gave way without reading anything.
    assert done.is_set() and _description(catalog) == "after"
    assert retries() - before == 1
