"""The SQL engine on a real catalog (SQLite and, in CI, PostgreSQL), real DuckDB and real score
files: views, joins, the sandbox's refusals, time and row limits, grid filters."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from tagscope.domain import (
    Label,
    LabelKind,
    MediaInfo,
    NewItem,
    NotFoundError,
    SqlError,
    SqlRefusedError,
    SqlTimeoutError,
    ValidationError,
)
from tagscope.domain.tags import Tag, Visibility
from tagscope.store import Catalog
from tagscope.store.label_states import LabelStates
from tagscope.store.scores import ScoreTables
from tagscope.store.sql import (
    FIRST_MATCHES_MAX,
    MEMORY_LIMIT_ENV,
    QuerySession,
    SqlEngine,
    parse_size,
    score_column,
    tag_column,
)
from tagscope.store.sql_guard import check_filtered, compile_filter
from tagscope.store.tag_catalog import TagCatalog

TAGS = ["dog", "street sign"]


def _item(i: int, **metadata: object) -> NewItem:
    label = Label(LabelKind.CLASSIFICATION, "dog" if i % 2 else "cat", is_main=True)
    return NewItem(
        path=f"/media/{i:03d}.jpg",
        media=MediaInfo(1000 + i, 100 * i, 50, "jpeg", f"hash{i}"),
        split="train" if i % 3 else "validation",
        metadata=metadata,
        labels=(label,),
    )


def _scores(ids: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((len(ids), len(TAGS)), dtype=np.float32)


class World:
    """Two datasets, labels, two score versions for ``birds``, one for ``fish``."""

    def __init__(self, catalog: Catalog, scores: ScoreTables) -> None:
        self.catalog = catalog
        self.scores = scores
        self.birds = catalog.create_dataset("birds")
        self.fish = catalog.create_dataset("fish")
        video = {"video_id": 100, "series_name": "Coast", "episode": 3}
        catalog.add_items(
            self.birds.id,
            [_item(1, **video, keyframe_time_ms=0), _item(2, **video, keyframe_time_ms=500)]
            + [_item(i) for i in range(3, 9)],
        )
        catalog.add_items(self.fish.id, [_item(i) for i in range(20, 24)])
        self.bird_ids = np.array(sorted(catalog.existing_paths(self.birds.id, [
            f"/media/{i:03d}.jpg" for i in range(1, 9)]).values()))  # fmt: skip
        self.fish_ids = np.array(sorted(catalog.existing_paths(self.fish.id, [
            f"/media/{i:03d}.jpg" for i in range(20, 24)]).values()))  # fmt: skip
        self.v1 = _scores(self.bird_ids, 1)
        self.v2 = _scores(self.bird_ids, 2)
        self.fish_scores = _scores(self.fish_ids, 3)
        scores.write(self.birds.id, "Animals", 1, "visual", self.bird_ids, TAGS, self.v1)
        scores.write(self.birds.id, "Animals", 2, "visual", self.bird_ids, TAGS, self.v2,
                     {"dog": 0.6})  # fmt: skip
        scores.write(self.fish.id, "Animals", 1, "visual", self.fish_ids, TAGS, self.fish_scores)


@pytest.fixture()
def world(database_url: str, tmp_path: Path) -> World:
    return World(Catalog.connect(database_url), ScoreTables(tmp_path / "scores"))


@pytest.fixture()
def engine(world: World) -> SqlEngine:
    engine = SqlEngine(world.catalog, world.scores, timeout_s=20)
    yield engine
    engine.close()


@pytest.fixture()
def session(engine: SqlEngine) -> QuerySession:
    with engine.session() as s:
        yield s


@pytest.fixture(scope="module")
def sandbox_engine(tmp_path_factory: pytest.TempPathFactory) -> SqlEngine:
    """One engine over a SQLite world for the tests that only read (the sandbox's rules do not
    depend on the catalog's database)."""
    root = tmp_path_factory.mktemp("sandbox")
    world = World(Catalog.connect(f"sqlite:///{root / 'catalog.db'}"), ScoreTables(root / "scores"))
    engine = SqlEngine(world.catalog, world.scores, timeout_s=20)
    yield engine
    engine.close()


@pytest.fixture()
def sandbox(sandbox_engine: SqlEngine) -> QuerySession:
    with sandbox_engine.session() as s:
        yield s


# -- views -------------------------------------------------------------------------------------
def test_views_and_their_columns(session: QuerySession) -> None:
    tables = session.tables()
    assert sorted(tables) == [
        "classes", "collection_items", "collections", "datasets", "dt_animals_visual", "items",
        "labels", "maps", "questions", "tags_animals",
    ]  # fmt: skip
    items = [c for c, _ in tables["items"]]
    assert items[:12] == [
        "id", "dataset_id", "dataset", "path", "modality", "width", "height", "format", "size",
        "content_hash", "text", "split",
    ]  # fmt: skip
    assert {"video_id", "keyframe_time_ms", "keyframe_index", "series_name", "episode"} <= set(
        items
    )
    assert items[-1] == "metadata"
    assert [c for c, _ in tables["labels"]] == [
        "item_id", "kind", "name", "source", "is_main", "score", "geometry", "class_id",
        "area", "author", "created_at", "model",
    ]  # fmt: skip
    assert tables["dt_animals_visual"] == [
        ("item_id", "BIGINT"), ("tag", "VARCHAR"), ("score", "FLOAT"), ("decision", "BOOLEAN"),
        ("threshold", "FLOAT"), ("version", "INTEGER"), ("video_id", "BIGINT"),
        ("shot_id", "BIGINT"), ("keyframe_time_ms", "BIGINT"),
    ]  # fmt: skip
    assert [c for c, _ in tables["tags_animals"]] == ["item_id", "dog", "street_sign"]


def test_items_expose_metadata_and_video_fields(session: QuerySession, world: World) -> None:
    result = session.execute(
        "SELECT path, dataset, video_id, keyframe_time_ms, series_name, episode, "
        "metadata->>'series_name' AS from_json FROM items WHERE dataset = 'birds' ORDER BY id"
    )
    assert result.rows[:3] == [
        ("/media/001.jpg", "birds", 100, 0, "Coast", 3, "Coast"),
        ("/media/002.jpg", "birds", 100, 500, "Coast", 3, "Coast"),
        ("/media/003.jpg", "birds", None, None, None, None, None),
    ]
    assert result.types[:4] == ["VARCHAR", "VARCHAR", "BIGINT", "BIGINT"]


def test_join_items_and_scores_of_the_latest_version(session: QuerySession, world: World) -> None:
    result = session.execute(
        "SELECT i.id, i.path, s.score, s.decision, s.version FROM items i "
        "JOIN dt_animals_visual s ON s.item_id = i.id "
        "WHERE i.dataset = 'birds' AND s.tag = 'dog' AND s.decision ORDER BY i.id"
    )
    dog = world.v2[:, 0]
    keep = dog >= np.float32(0.6)  # version 2 was written with the dog threshold at 0.6
    assert [r[0] for r in result.rows] == world.bird_ids[keep].tolist()
    np.testing.assert_allclose([r[2] for r in result.rows], dog[keep])
    assert {r[3] for r in result.rows} == {True}
    assert {r[4] for r in result.rows} == {2}
    # Each dataset sees its own latest version; fish has only version 1.
    per_dataset = session.execute(
        "SELECT i.dataset, min(s.version), max(s.version), count(*) FROM dt_animals_visual s "
        "JOIN items i ON i.id = s.item_id GROUP BY ALL ORDER BY 1"
    )
    assert per_dataset.rows == [("birds", 2, 2, 16), ("fish", 1, 1, 8)]


def test_join_with_labels(session: QuerySession, world: World) -> None:
    result = session.execute(
        "SELECT l.name, count(*) AS n, round(avg(s.score), 6) AS mean FROM labels l "
        "JOIN dt_animals_visual s ON s.item_id = l.item_id AND s.tag = 'street sign' "
        "JOIN items i ON i.id = l.item_id WHERE i.dataset = 'birds' GROUP BY l.name ORDER BY 1"
    )
    sign = world.v2[:, 1]
    is_dog = np.arange(1, 9) % 2 == 1
    assert result.rows == [
        ("cat", 4, pytest.approx(float(sign[~is_dog].mean()), abs=1e-6)),
        ("dog", 4, pytest.approx(float(sign[is_dog].mean()), abs=1e-6)),
    ]


def test_labels_show_their_geometry_area_and_provenance(engine: SqlEngine, world: World) -> None:
    item = int(world.fish_ids[0])
    line = Label(LabelKind.POLYLINE, "road", geometry={"lines": [[0, 0, 3, 4], [1, 1, 2, 2]]})
    box = Label(LabelKind.BOX, "dog", geometry={"bbox": [1, 2, 3, 4]})
    world.catalog.add_labels([(item, line), (item, box)])
    query = (
        "SELECT kind, area, json_array_length(geometry -> '$.lines'), author, created_at "
        f"FROM labels WHERE item_id = {item} AND kind <> 'classification' ORDER BY kind"
    )
    with engine.session() as s:
        assert s.execute(query).rows == [
            ("box", 12.0, None, None, None),
            ("polyline", None, 2, None, None),
        ]
    # An edit in place (a label's author and time written by an undo, say) shows too.
    states = LabelStates(world.catalog, kinds=None)
    [*others, record] = states.states(world.fish.id, [item])[item]["labels"]
    when = "2026-12-01T10:00:00.250000+00:00"
    edited = {**record, "author": "alice", "created_at": when}
    states.restore(world.fish.id, {item: {"labels": [edited, *others]}})
    with engine.session() as s:
        [(author, created)] = s.execute(
            f"SELECT author, created_at FROM labels WHERE item_id = {item} AND kind = 'box'"
        ).rows
    assert author == "alice" and created == datetime.fromisoformat(when)


def test_decisions_follow_a_threshold_saved_later(engine: SqlEngine, world: World) -> None:
    tags = TagCatalog(world.catalog)
    group = tags.create_group(
        world.birds.id, "Animals", space="text", visibility=Visibility.SHAREABLE,
        tags=[Tag("dog"), Tag("street sign")],
    )  # fmt: skip
    tags.set_threshold(group.tag("dog").id, 0.25)
    with engine.session() as s:
        rows = s.execute(
            "SELECT item_id, decision, threshold FROM dt_animals_visual "
            "WHERE tag = 'dog' ORDER BY item_id"
        ).rows
    scores = np.concatenate([world.v2[:, 0], world.fish_scores[:, 0]])
    assert [r[1] for r in rows] == (scores >= np.float32(0.25)).tolist()
    assert [r[2] for r in rows] == pytest.approx([0.25] * len(rows))
    # The file keeps the decision it was written with.
    assert world.scores.info(world.birds.id, "animals", 2).thresholds["dog"] == 0.6


def test_the_session_follows_catalog_and_score_changes(engine: SqlEngine, world: World) -> None:
    with engine.session() as s:
        assert s.execute("SELECT count(*) FROM items").rows == [(12,)]
    world.catalog.add_items(world.fish.id, [_item(30, depth_m=12.5, diver="Ann")])
    new_id = world.catalog.existing_paths(world.fish.id, ["/media/030.jpg"])["/media/030.jpg"]
    ids = np.append(world.fish_ids, new_id)
    world.scores.write(world.fish.id, "animals", 2, "visual", ids, TAGS, _scores(ids, 9))
    world.scores.write(world.fish.id, "Under Water", 1, "transcript", ids[:2], ["whale"],
                       np.array([[0.9], [0.1]], dtype=np.float32))  # fmt: skip
    with engine.session() as s:
        assert s.execute("SELECT count(*), count(depth_m) FROM items").rows == [(13, 1)]
        assert s.execute(f"SELECT diver, depth_m FROM items WHERE id = {new_id}").rows == [
            ("Ann", 12.5)
        ]
        assert s.execute("SELECT count(*) FROM labels").rows == [(13,)]
        assert s.execute(
            "SELECT version, count(*) FROM dt_animals_visual s JOIN items i ON i.id = s.item_id "
            "WHERE i.dataset = 'fish' GROUP BY version"
        ).rows == [(2, 10)]
        assert s.execute("SELECT item_id, whale FROM tags_under_water ORDER BY 1").rows == [
            (int(ids[0]), pytest.approx(0.9)),
            (int(ids[1]), pytest.approx(0.1)),
        ]
    world.catalog.delete_dataset(world.birds.id)
    with engine.session() as s:
        assert s.execute("SELECT DISTINCT dataset FROM items").rows == [("fish",)]
        assert s.execute("SELECT count(*) FROM labels").rows == [(5,)]
        assert s.execute("SELECT count(DISTINCT item_id) FROM dt_animals_visual").rows == [(5,)]


def test_results_as_arrow_and_the_row_limit(sandbox: QuerySession) -> None:
    result = sandbox.execute("SELECT * FROM range(25) t(n) ORDER BY n DESC", max_rows=10)
    assert isinstance(result.to_arrow(), pa.Table)
    assert (result.n_rows, result.truncated, result.columns) == (10, True, ["n"])
    assert result.rows[0] == (24,)
    whole = sandbox.execute("SELECT * FROM range(25)", max_rows=25)
    assert (whole.n_rows, whole.truncated) == (25, False)


def test_the_time_limit_interrupts_a_slow_query(sandbox: QuerySession) -> None:
    start = time.perf_counter()
    with pytest.raises(SqlTimeoutError, match=r"time limit \(0.5 s, timeout_s\).*--timeout"):
        sandbox.execute(
            "SELECT count(*) FROM range(1000000000) a, range(1000000000) b WHERE a.range < b.range",
            timeout_s=0.5,
        )
    assert time.perf_counter() - start < 10
    assert sandbox.execute("SELECT 42").rows == [(42,)]  # the session goes on


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM items",
        "WITH d AS (SELECT * FROM dt_animals_visual) SELECT tag, count(*) FROM d GROUP BY tag",
        "FROM labels SELECT name",
        "VALUES (1, 'a')",
        "EXPLAIN SELECT * FROM items",
        "EXPLAIN ANALYZE SELECT count(*) FROM labels",
        "DESCRIBE items",
        "SHOW TABLES",
        "SUMMARIZE items",
        "PRAGMA table_info('dt_animals_visual')",
        "SELECT * FROM information_schema.columns",
        "SELECT unnest([1, 2]) AS n, * FROM range(2)",
        "select * from items; ",
        "SELECT count(*) FROM items -- a trailing comment",
        "SELECT 1 -- note",
        "SELECT 1; -- x",
        "SELECT 1 /* c */",
        "/* c */ SELECT 1",
        "SELECT 1; /* c */ ;\n-- and another\n",
        "SELECT ';--' AS s -- a comment after a string that looks like one",
    ],
)
def test_read_only_statements_run(sandbox: QuerySession, sql: str) -> None:
    sandbox.execute(sql)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("INSERT INTO labels VALUES (1, 'box', 'x', 'ground_truth', false, null)", "INSERT"),
        ("UPDATE items SET width = 0", "UPDATE is not allowed: it writes"),
        ("DELETE FROM labels", "DELETE is not allowed: it writes"),
        ("CREATE TABLE t AS SELECT 1", "CREATE is not allowed"),
        ("CREATE TEMP MACRO m(x) AS x", "CREATE is not allowed"),
        ("DROP VIEW items", "DROP is not allowed"),
        ("ALTER VIEW items RENAME TO things", "ALTER is not allowed"),
        ("COPY items TO '/tmp/items.csv'", "COPY is not allowed: it reads or writes files"),
        ("COPY labels FROM '/etc/passwd'", "COPY is not allowed"),
        ("ATTACH '/tmp/other.db' AS other", "ATTACH is not allowed"),
        ("ATTACH ':memory:' AS other", "ATTACH is not allowed"),
        ("DETACH other", "DETACH is not allowed"),
        ("INSTALL httpfs", "INSTALL is not allowed"),
        ("LOAD httpfs", "LOAD is not allowed"),
        ("SET threads = 1", "SET is not allowed: it changes settings"),
        ("SET enable_external_access = true", "SET is not allowed"),
        ("RESET threads", "RESET is not allowed"),
        ("PRAGMA enable_profiling", "PRAGMA 'enable_profiling'"),
        ("EXPORT DATABASE '/tmp/dump'", "EXPORT is not allowed"),
        ("IMPORT DATABASE '/tmp/dump'", "IMPORT is not allowed"),
        ("BEGIN TRANSACTION", "TRANSACTION is not allowed"),
        ("CHECKPOINT", "CHECKPOINT is not allowed: it writes the database to disk"),
        ("FORCE CHECKPOINT", "CHECKPOINT is not allowed"),
        ("RESET ALL", "RESET is not allowed: it changes settings"),
        ("RESET SESSION threads", "RESET is not allowed"),
        ("SELECT * FROM pg_catalog.pg_settings", "'pg_catalog.pg_settings'.*settings or paths"),
        ("SELECT * FROM pg_settings", "'pg_settings'.*settings or paths"),
        ("SELECT current_setting('allowed_directories')", r"current_setting\(\).*paths"),
        ("SELECT pg_catalog.current_setting('memory_limit')", r"current_setting\(\)"),
        ("SELECT * FROM duckdb_settings()", r"duckdb_settings\(\).*settings or paths"),
        ("SELECT sql FROM duckdb_views()", r"duckdb_views\(\).*paths"),
        ("SELECT * FROM duckdb_databases()", r"duckdb_databases\(\)"),
        ("SELECT view_definition FROM information_schema.views", "'information_schema.views'"),
        ("SELECT definition FROM pg_catalog.pg_views", "'pg_catalog.pg_views'"),
        ("EXPLAIN ANALYZE DELETE FROM items", "only EXPLAIN"),
        ("SELECT * FROM read_csv('/etc/passwd')", r"read_csv\(\) is not allowed: it reads files"),
        ("SELECT * FROM read_csv_auto('/etc/passwd')", "read_csv_auto"),
        ("SELECT * FROM '/etc/passwd'", "reading the file '/etc/passwd'"),
        ("SELECT * FROM 'scores/animals/1/visual/v000001/part-00000.parquet'", "the file"),
        ("DESCRIBE '/etc/passwd'", "reading the file"),
        ("SELECT * FROM read_text('/etc/hostname')", r"read_text\(\)"),
        ("SELECT count(*) FROM glob('/**')", r"glob\(\)"),
        ("SELECT * FROM read_parquet('http://example.com/x.parquet')", r"read_parquet\(\)"),
        ("SELECT * FROM read_json('https://example.com/x.json')", r"read_json\(\)"),
        ("SELECT * FROM 'https://example.com/x.parquet'", "reading the file"),
        ("SELECT * FROM 's3://bucket/x.parquet'", "reading the file"),
        ("SELECT * FROM parquet_metadata('x.parquet')", r"parquet_metadata\(\)"),
        ("SELECT * FROM items WHERE id IN (SELECT 1 FROM glob('*'))", r"glob\(\)"),
        ("SELECT * FROM query('DELETE FROM items')", r"query\(\)"),
        ("SELECT getenv('HOME')", r"getenv\(\)"),
        ("SELECT * FROM _tagscope.items", "only the session's tables"),
        ("SELECT * FROM other.main.t", "only the session's tables"),
        ("SELECT 1; DROP VIEW items", "2 statements at once.*'DROP VIEW items'"),
        ("SELECT 1; SELECT 2", "2 statements at once"),
        ("SELECT * FROM items; COPY items TO '/tmp/x.csv'", "2 statements"),
    ],
)
def test_the_sandbox_refuses(sandbox: QuerySession, sql: str, message: str) -> None:
    with pytest.raises(SqlRefusedError, match=message) as caught:
        sandbox.execute(sql)
    assert caught.value.field == "sql"
    assert str(caught.value).startswith("refused: ")
    # Nothing changed.
    assert sandbox.execute("SELECT count(*) FROM items").rows == [(12,)]


def test_no_setting_or_path_shows(sandbox_engine: SqlEngine, sandbox: QuerySession) -> None:
    """What the sandbox lets a query read about itself names no folder of the server."""
    scores = str(sandbox_engine.scores.root.resolve())
    for sql in (
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM information_schema.columns",
        "SELECT * FROM duckdb_tables()",
        "SELECT * FROM duckdb_functions() WHERE macro_definition IS NOT NULL",
        "EXPLAIN ANALYZE SELECT * FROM dt_animals_visual",
        "/* a comment first */ EXPLAIN ANALYZE SELECT * FROM dt_animals_visual",
        "SELECT * FROM pg_catalog.pg_class",
        "SHOW ALL TABLES",
    ):
        assert scores not in repr(sandbox.execute(sql).rows), sql


# -- resource limits ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_engine(sandbox_engine: SqlEngine) -> SqlEngine:
    """An engine whose queries may use 100MB of memory (from the environment, as a server's)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv(MEMORY_LIMIT_ENV, "100MB")
        engine = SqlEngine(sandbox_engine.catalog, sandbox_engine.scores, timeout_s=60)
    yield engine
    engine.close()


@pytest.mark.parametrize(
    "sql",
    [
        # DuckDB counts this list: its own limit stops it.
        "SELECT list(range) FROM range(30000000)",
        # DuckDB does not count these strings (200MB a chunk): the watchdog stops them.
        "SELECT max(length(repeat('x', 100000) || range::VARCHAR)) FROM range(50000000)",
    ],
)
def test_the_memory_limit_stops_a_query(small_engine: SqlEngine, sql: str) -> None:
    assert small_engine.memory_limit == "100MB"
    with small_engine.session() as s:
        with pytest.raises(SqlError, match="memory limit") as caught:
            s.execute(sql)
        message = str(caught.value)
        assert "(100MB, memory_limit)" in message and "TAGSCOPE_SQL_MEMORY_LIMIT" in message
        assert not isinstance(caught.value, SqlTimeoutError)
        assert s.execute("SELECT 42").rows == [(42,)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT length(repeat('x', 30000000))",  # one call: no interrupt stops it
        "SELECT length(repeat(repeat('ab', 1000), 20000))",
        "SELECT length(lpad('x', 30000000, 'y'))",
        "SELECT length(rpad('x', 10000000, 'abc'))",
        "SELECT length(repeat(s, 30000000)) FROM (VALUES ('a')) t(s)",  # not a constant
    ],
)
def test_one_huge_value_is_refused_before_it_is_built(small_engine: SqlEngine, sql: str) -> None:
    with small_engine.session() as s:
        with pytest.raises(SqlError, match=r"over 25000000 bytes, a quarter of the SQL memory"):
            s.execute(sql)
        # Under the cap, the same functions answer as DuckDB's own.
        assert s.execute("SELECT repeat('ab', 3), lpad('a', 3, 'x'), rpad('a', 2, 'y')").rows == [
            ("ababab", "xxa", "ay")
        ]
        assert s.execute("SELECT repeat([1, 2], 2)").rows == [([1, 2, 1, 2],)]


def test_a_function_qualified_with_a_catalog_is_refused(sandbox: QuerySession) -> None:
    with pytest.raises(SqlRefusedError, match=r"system\.main\.repeat\(\)"):
        sandbox.execute("SELECT system.main.repeat('x', 1000000000)")


def test_a_memory_limit_must_be_a_size(sandbox_engine: SqlEngine) -> None:
    with pytest.raises(ValidationError, match="memory_limit must be a size such as 4GB"):
        SqlEngine(sandbox_engine.catalog, sandbox_engine.scores, memory_limit="lots")
    assert parse_size("4GB") == 4 * 10**9 and parse_size("512MiB") == 512 * 2**20


def test_the_result_size_limit(sandbox: QuerySession) -> None:
    sql = "SELECT repeat('x', 1000) AS s FROM range(100000)"
    with pytest.raises(SqlError, match=r"larger than the limit of 1,000,000 bytes \(max_bytes\)"):
        sandbox.execute(sql, max_rows=100_000, max_bytes=1_000_000)
    assert sandbox.execute(sql, max_rows=100, max_bytes=1_000_000).n_rows == 100
    assert sandbox.execute("SELECT 42").rows == [(42,)]


def test_the_column_limit(sandbox: QuerySession) -> None:
    wide = "SELECT " + ", ".join(f"{i} AS c{i}" for i in range(1001))
    with pytest.raises(SqlError, match="has 1001 columns, more than the limit of 1000"):
        sandbox.execute(wide)
    with pytest.raises(SqlError, match="--max-columns"):  # a subquery's list counts too
        sandbox.execute(f"SELECT count(*) FROM ({wide})")
    # Counted again once bound: a star expands.
    with pytest.raises(SqlError, match=r"more than the limit of 5 \(max_columns\)"):
        sandbox.execute("SELECT * FROM items", max_columns=5)
    assert sandbox.execute(wide, max_columns=1001).columns[-1] == "c1000"


def test_the_time_limit_stops_fetching_too(sandbox: QuerySession) -> None:
    """A result that streams for ever is stopped while it is fetched."""
    with pytest.raises(SqlTimeoutError, match="time limit"):
        sandbox.execute(
            "SELECT range % 2 = 0 AS even FROM range(1000000000000)",
            max_rows=10**12,
            max_bytes=10**12,
            timeout_s=0.5,
        )
    assert sandbox.execute("SELECT 42").rows == [(42,)]


def test_the_time_limit_covers_converting_the_rows(sandbox: QuerySession) -> None:
    result = sandbox.execute("SELECT range FROM range(5000)", max_rows=5000, timeout_s=0.2)
    time.sleep(0.3)
    with pytest.raises(SqlTimeoutError, match="time limit"):
        result.python_rows()
    assert len(result.rows) == 5000  # the arrow table itself stays whole


def test_errors_that_are_not_refusals(sandbox: QuerySession) -> None:
    with pytest.raises(SqlError, match="syntax error"):
        sandbox.execute("SELEC 1")
    with pytest.raises(
        SqlError, match="unknown table 'nothing'; tables: classes, collection_items, "
    ):
        sandbox.execute("SELECT * FROM nothing")
    with pytest.raises(SqlError, match=r"query failed: .*no_such_column"):
        sandbox.execute("SELECT no_such_column FROM items")
    with pytest.raises(SqlError, match="empty query"):
        sandbox.execute("  ;  ")


def test_duckdb_itself_is_locked_down(sandbox_engine: SqlEngine, tmp_path: Path) -> None:
    """The second lock: even a statement that skipped the check cannot reach files or settings."""
    con = sandbox_engine._con.cursor()
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n")
    for sql in (
        f"SELECT * FROM read_csv('{outside}')",
        f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "LOAD httpfs",
        "INSTALL httpfs",
        "SELECT * FROM read_parquet('http://127.0.0.1:9/x.parquet')",
    ):
        with pytest.raises(duckdb.Error, match=r"(?i)permission|disabled|locked"):
            con.execute(sql).fetchall()
    assert not (tmp_path / "x.csv").exists()


# -- grid filters (F-42) -----------------------------------------------------------------------
def test_filter_items_by_columns_scores_and_labels(session: QuerySession, world: World) -> None:
    ids, dog = world.bird_ids, world.v2[:, 0]
    page = session.filter_items("birds", f"width > 200 AND {score_column('Animals', 'dog')} > 0.3")
    keep = (np.arange(1, 9) * 100 > 200) & (dog > np.float32(0.3))
    assert (page.ids, page.total) == (ids[keep].tolist(), int(keep.sum()))
    by_score = session.filter_items(
        "birds", "tags_animals.street_sign >= 0", order_by="tags_animals.dog", descending=True
    )
    assert by_score.ids == ids[np.argsort(-dog, kind="stable")].tolist()
    labelled = session.filter_items("birds", "has_label(id, 'dog') AND split = 'train'")
    assert labelled.ids == [ids[i - 1] for i in (1, 5, 7)]
    subquery = session.filter_items(
        "birds", "id IN (SELECT item_id FROM labels WHERE name = 'cat') AND video_id IS NULL"
    )
    assert subquery.ids == [ids[i - 1] for i in (4, 6, 8)]
    everything = session.filter_items("fish", None, limit=2, offset=1)
    assert (everything.ids, everything.total) == (world.fish_ids[1:3].tolist(), 4)
    past_the_end = session.filter_items("fish", "width > 0", limit=2, offset=10)
    assert (past_the_end.ids, past_the_end.total) == ([], 4)
    assert session.filter_items("fish", "width < 0").total == 0


def _without_twins(scores: Path, into: Path) -> ScoreTables:
    """A copy of the score files whose versions lost their wide twins (as versions written
    before twins existed): the tags_ views pivot their long rows."""
    shutil.copytree(scores, into)
    for manifest in into.rglob("_manifest.json"):
        spec = json.loads(manifest.read_text())
        spec.pop("wide", None)
        manifest.write_text(json.dumps(spec))
        shutil.rmtree(manifest.parent / "_wide", ignore_errors=True)
    return ScoreTables(into)


GRID_FILTERS = [
    ("tags_animals.dog > 0.3", "id", False),
    ("tags_animals.dog > 0.3", "id", True),
    ("tags_animals.dog > 0.3 AND tags_animals.street_sign <= 0.7", "id", False),
    ("tags_animals.dog >= 0.2 AND width > 300", "path", True),
    ("tags_animals.street_sign > 0.1 OR split = 'validation'", "tags_animals.dog", True),
    ("tags_animals.dog IS NULL", "id", False),
]


def test_tag_filters_read_the_wide_twins(session: QuerySession, world: World) -> None:
    """The latest version of each dataset (birds: v2 of two) is read from its wide twins, with
    no GROUP BY; filters on one tag, two, tags and metadata find what the scores say."""
    plan = session.execute("EXPLAIN ANALYZE SELECT item_id, dog FROM tags_animals").rows[0][1]
    assert "v000002/_wide/part-00000.parquet" in plan and "Group By" not in plan
    dog, sign = world.v2[:, 0], world.v2[:, 1]
    width = np.arange(1, 9) * 100
    one = session.filter_items("birds", "tags_animals.dog > 0.3")
    assert one.ids == world.bird_ids[dog > np.float32(0.3)].tolist()
    two = session.filter_items("birds", "tags_animals.dog > 0.3 AND tags_animals.street_sign < 0.7")
    keep = (dog > np.float32(0.3)) & (sign < np.float32(0.7))
    assert (two.ids, two.total) == (world.bird_ids[keep].tolist(), int(keep.sum()))
    mixed = session.filter_items(
        "birds", "tags_animals.dog >= 0.2 AND width > 300", order_by="tags_animals.dog",
        descending=True,
    )  # fmt: skip
    keep = (dog >= np.float32(0.2)) & (width > 300)
    order = np.argsort(-dog[keep], kind="stable")
    assert mixed.ids == world.bird_ids[keep][order].tolist()


@pytest.mark.parametrize(("where", "order_by", "descending"), GRID_FILTERS)
def test_grid_filters_give_what_the_pivot_gave(
    world: World, tmp_path: Path, where: str, order_by: str, descending: bool
) -> None:
    """Same ids, totals and order from the wide twins as from the pivot of the long rows (the
    views' only form before twins), first pages and pages by offset alike; an item added after
    scoring has no score (NULL, sorted last)."""
    world.catalog.add_items(world.birds.id, [_item(9)])
    pivoted = _without_twins(world.scores.root, tmp_path / "pivoted")
    answers = []
    for scores in (world.scores, pivoted):
        engine = SqlEngine(world.catalog, scores, timeout_s=20)
        with engine.session() as s:
            query = {"order_by": order_by, "descending": descending}
            pages = [s.filter_items("birds", where, limit=3, offset=o, **query) for o in (0, 3, 6)]
            whole = s.filter_items("birds", where, limit=100, **query)
            sorted_ = s.filter_items("birds", where, limit=FIRST_MATCHES_MAX + 1, **query)
            assert (sorted_.ids, sorted_.total) == (whole.ids, whole.total)
            answers.append(([(p.ids, p.total) for p in pages], whole.ids, whole.total))
        engine.close()
    assert answers[0] == answers[1]
    pages, whole, total = answers[0]
    assert [i for ids, _ in pages for i in ids] == whole and len(whole) == total > 0


SCORES_ALONE = [
    ("tags_animals.dog > 0.8", "id", False, True),
    ("tags_animals.dog > 0.8 AND tags_animals.street_sign < 0.8", "tags_animals.dog", True, True),
    ("NOT (tags_animals.dog > 0.8)", "tags_animals.street_sign", False, True),
    # True for an item without scores: those items match too, so the join stays.
    ("coalesce(tags_animals.dog, 0) < 0.5", "id", False, False),
    ("tags_animals.dog IS NULL", "id", False, False),
    ("tags_animals.dog > 0.8 AND width > 0", "id", False, False),  # reads the items too
    ("tags_animals.dog > 0.8", "path", False, False),
]


@pytest.mark.parametrize(("where", "order_by", "descending", "alone"), SCORES_ALONE)
def test_filters_on_scores_alone_skip_the_items(
    world: World, where: str, order_by: str, descending: bool, alone: bool
) -> None:
    """A filter reading one group's scores and nothing else is answered from the score rows
    without joining the items (10M of them) when that gives the same matches: the dataset's
    ids fill their range and the filter is false for an item without scores. Ids, totals and
    order equal those of the same filter read through the join (``AND id > 0`` forces it),
    on a dataset some of whose items have no scores, and on one whose ids interleave with
    another dataset's."""
    cats = world.catalog.create_dataset("cats")
    world.catalog.add_items(cats.id, [_item(i) for i in range(40, 46)])
    cat_ids = np.array(world.catalog.item_ids(cats.id))
    scored = cat_ids[[0, 2, 3, 5]]  # the others have no scores
    world.scores.write(cats.id, "Animals", 1, "visual", scored, TAGS, _scores(scored, 4))
    world.catalog.add_items(world.birds.id, [_item(9)])  # birds' ids now skip the fish
    engine = SqlEngine(world.catalog, world.scores, timeout_s=20)
    query = {"order_by": order_by, "descending": descending}
    with engine.session() as s:
        for dataset, skips in (("cats", alone), ("birds", False)):
            ident = s._filtered_rows(dataset, where, order_by).ident
            assert (ident == "tags_animals.item_id") is skips
            joined = [
                s.filter_items(dataset, f"({where}) AND id > 0", limit=n, offset=o, **query)
                for n, o in ((2, 0), (100, 0), (2, 2))
            ]
            got = [s.filter_items(dataset, where, limit=n, offset=o, **query)
                   for n, o in ((2, 0), (100, 0), (2, 2))]  # fmt: skip
            assert got == joined
            assert joined[1].total > 0 and len(joined[1].ids) == joined[1].total
    engine.close()


@pytest.mark.parametrize("descending", [True, False])
def test_a_sort_by_a_tag_reads_the_scores_alone_while_every_item_has_one(
    world: World, descending: bool
) -> None:
    """No filter, an order by a tag: the score rows alone are the answer while every item of
    the dataset has one; once some item has none, the join answers (its missing score last),
    and the next pages read the join at once. Ids, totals and order equal those of the join
    (``id > 0`` matches every item and forces it), first pages and pages by offset alike."""
    cats = world.catalog.create_dataset("cats")
    world.catalog.add_items(cats.id, [_item(i) for i in range(40, 46)])
    ids = np.array(world.catalog.item_ids(cats.id))
    world.scores.write(cats.id, "Animals", 1, "visual", ids, TAGS, _scores(ids, 7))
    engine = SqlEngine(world.catalog, world.scores, timeout_s=20)
    query = {"order_by": "tags_animals.dog", "descending": descending}
    shapes = ((3, 0), (100, 0), (2, 2), (2, 10))

    def pages(s: QuerySession, where: str | None) -> list:
        return [s.filter_items("cats", where, limit=n, offset=o, **query) for n, o in shapes]

    with engine.session() as s:
        assert s._filtered_rows("cats", None, "tags_animals.dog").expect == 6
        assert pages(s, None) == pages(s, "id > 0")
        assert pages(s, None)[1].total == 6
    world.catalog.add_items(cats.id, [_item(46), _item(47)])  # no scores yet
    with engine.session() as s:
        got = pages(s, None)
        assert got == pages(s, "id > 0")
        assert got[1].total == 8 and got[1].ids[-2:] == world.catalog.item_ids(cats.id)[-2:]
        assert s._filtered_rows("cats", None, "tags_animals.dog").ident == "items.id"
    engine.close()


def test_a_first_page_by_a_tag_breaks_ties_by_id(world: World) -> None:
    """The best scores, then the rows at or past the last of them: every row tied there is
    read, and the page takes the smallest ids of them, as the sort of every match does."""
    ties = world.catalog.create_dataset("ties")
    world.catalog.add_items(ties.id, [_item(i) for i in range(50, 60)])
    ids = np.array(world.catalog.item_ids(ties.id))
    scores = np.full((len(ids), len(TAGS)), 0.5, np.float32)
    scores[[2, 7], 0] = 0.9  # two above the tie, then eight tied
    world.scores.write(ties.id, "Animals", 1, "visual", ids, TAGS, scores)
    engine = SqlEngine(world.catalog, world.scores, timeout_s=20)
    with engine.session() as s:
        for where in (None, "tags_animals.dog > 0.1"):
            page = s.filter_items(
                "ties", where, order_by="tags_animals.dog", descending=True, limit=4
            )
            assert (page.ids, page.total) == ([ids[2], ids[7], ids[0], ids[1]], 10)
            low = s.filter_items("ties", where, order_by="tags_animals.dog", limit=3)
            assert low.ids == ids[[0, 1, 3]].tolist()
    engine.close()


def test_the_range_of_a_datasets_ids_follows_the_items_added(world: World) -> None:
    """The ids' range a filter on scores alone reads is kept per state of the catalog's copy:
    items added (and scored) after a session are in the next one's matches."""
    cats = world.catalog.create_dataset("cats")
    world.catalog.add_items(cats.id, [_item(i) for i in range(40, 43)])
    first = np.array(world.catalog.item_ids(cats.id))
    world.scores.write(cats.id, "Animals", 1, "visual", first, TAGS, _scores(first, 5))
    engine = SqlEngine(world.catalog, world.scores, timeout_s=20)
    with engine.session() as s:
        assert s.filter_items("cats", "tags_animals.dog >= 0").ids == first.tolist()
    world.catalog.add_items(cats.id, [_item(i) for i in range(43, 46)])
    every = np.array(world.catalog.item_ids(cats.id))
    world.scores.write(cats.id, "Animals", 2, "visual", every, TAGS, _scores(every, 6))
    with engine.session() as s:
        rows = s._filtered_rows("cats", "tags_animals.dog >= 0", "id")
        assert rows.ident == "tags_animals.item_id"
        page = s.filter_items("cats", "tags_animals.dog >= 0", limit=100)
        assert (page.ids, page.total) == (every.tolist(), 6)
    engine.close()


def test_a_group_without_twins_pivots_its_long_rows(world: World, tmp_path: Path) -> None:
    pivoted = _without_twins(world.scores.root, tmp_path / "pivoted")
    engine = SqlEngine(world.catalog, pivoted, timeout_s=20)
    with engine.session() as s:
        plan = s.execute("EXPLAIN ANALYZE SELECT item_id, dog FROM tags_animals").rows[0][1]
        page = s.filter_items("birds", "tags_animals.dog > 0.3")
    engine.close()
    assert "_wide" not in plan and "Group By" in plan
    assert page.ids == world.bird_ids[world.v2[:, 0] > np.float32(0.3)].tolist()


def test_label_counts_are_those_of_the_filtered_items(session: QuerySession) -> None:
    where = f"width > 200 AND {score_column('Animals', 'dog')} > 0.3"
    ids = session.filter_items("birds", where).ids
    rows = session.execute(
        "SELECT name, count(DISTINCT item_id) FROM labels WHERE item_id IN "
        f"({', '.join(map(str, ids)) or 'NULL'}) GROUP BY name ORDER BY name"
    ).rows
    expected = {name: n for name, n in rows}
    assert session.label_counts("birds", where) == expected
    # Column names bind to the items, as in filter_items (the labels' "name" is not there).
    with pytest.raises(SqlError, match="name"):
        session.label_counts("birds", "name = 'dog'")
    assert session.label_counts("birds", "false) OR (true") == session.label_counts("birds", "true")
    assert session.label_counts("fish", "width < 0") == {}


@pytest.mark.parametrize(
    ("where", "error", "message"),
    [
        ("true; DROP VIEW items", SqlRefusedError, "a ';' in a filter"),
        ("true --\n; DROP VIEW items", SqlRefusedError, "a ';' in a filter"),
        ("true) UNION SELECT id FROM labels --", SqlError, "syntax error"),
        ("true) UNION (SELECT 1", SqlRefusedError, "one boolean expression"),
        ("true) FROM labels WHERE (true", SqlRefusedError, "one boolean expression"),
        ("width > 1 ORDER BY 1", SqlError, "syntax error"),
        ("exists (select * from read_csv('/etc/passwd'))", SqlRefusedError, r"read_csv\(\)"),
        ("path IN (SELECT * FROM '/etc/passwd')", SqlRefusedError, "reading the file"),
        ("getenv('HOME') = ''", SqlRefusedError, r"getenv\(\)"),
        ("tags_plants.rose > 0.5", SqlError, "no scores for 'tags_plants'"),
        ("tags_animals.cat > 0.5", SqlError, "tags_animals has no column 'cat'; its tags: dog"),
    ],
)
def test_filters_cannot_smuggle_statements(
    sandbox: QuerySession, where: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        sandbox.filter_items("birds", where)
    assert caught.value.field == "where"


@pytest.mark.parametrize(
    "where",
    [
        "false) OR (dataset_id = {fish}",
        "false) OR (true",
        "dataset_id <> 0) OR (1 = 1",
        "false) OR items.dataset_id IN (SELECT id FROM datasets) OR (false",
        "false --\n) OR (true",
        "false /* ) OR (true */",
        "id IN (SELECT id FROM items WHERE dataset = 'fish')",
        "EXISTS (SELECT 1 FROM items WHERE dataset = 'fish')",
        "dataset = 'fish'",
        "true) UNION ALL SELECT id, 0 FROM items WHERE (true",
        "true) ORDER BY 1 --",
        "true)) AS x, items WHERE ((true",
    ],
)
def test_a_filter_stays_inside_its_dataset(sandbox: QuerySession, where: str) -> None:
    """Whatever the filter says, only the dataset's own items come back (or it is refused)."""
    fish = sandbox.execute("SELECT id FROM datasets WHERE name = 'fish'").rows[0][0]
    birds = set(sandbox.execute("SELECT id FROM items WHERE dataset = 'birds'").rows)
    try:
        page = sandbox.filter_items("birds", where.format(fish=fish))
    except SqlError as refused:
        assert refused.field == "where"
        return
    assert {(i,) for i in page.ids} <= birds and page.total == len(page.ids)


def test_a_filter_breaking_out_of_parentheses_matches_nothing_else(sandbox: QuerySession) -> None:
    fish = sandbox.execute("SELECT id FROM datasets WHERE name = 'fish'").rows[0][0]
    assert sandbox.filter_items("birds", f"false) OR (dataset_id = {fish}").ids == []
    assert sandbox.filter_items("birds", "false) OR (true").total == 8
    assert sandbox.filter_items("fish", "true) OR (true").total == 4


def test_the_query_around_a_filter_is_checked(sandbox: QuerySession) -> None:
    """A filter is DuckDB's rendering of its parse tree; the query built around it must have it,
    whole, as its WHERE."""
    con, tables = sandbox._con, sandbox.table_names
    compiled = compile_filter(con, "false) OR (width > 1 -- c", tables)
    assert compiled.sql == "((false OR (width > 1)))"

    def widened(condition: str) -> str:
        return f"SELECT id FROM items WHERE {condition} OR true"

    def scoped(condition: str) -> str:
        return f"SELECT id FROM items WHERE {condition} ORDER BY id"

    with pytest.raises(SqlRefusedError, match="reaches outside its WHERE"):
        check_filtered(con, widened, compiled, tables)
    assert check_filtered(con, scoped, compiled, tables) == scoped(compiled.sql)
    forged = replace(compiled, sql="(false) OR (true)")
    with pytest.raises(SqlRefusedError, match="reaches outside its WHERE"):
        check_filtered(con, scoped, forged, tables)


def test_filter_errors(sandbox: QuerySession) -> None:
    with pytest.raises(NotFoundError, match="no dataset named 'cats'"):
        sandbox.filter_items("cats", "width > 1")
    with pytest.raises(SqlError, match="cannot sort by 'colour'") as caught:
        sandbox.filter_items("birds", "width > 1", order_by="colour")
    assert caught.value.field == "order_by"


def test_tag_columns_are_identifiers() -> None:
    assert tag_column("Street Sign") == "street_sign"
    assert tag_column("3d print") == "t_3d_print"
    assert score_column("Street Scenes", "red car") == "tags_street_scenes.red_car"
