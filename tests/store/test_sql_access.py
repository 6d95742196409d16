"""SQL sees only the datasets the caller may read (F-90): a session restricted to dataset
``alpha`` shows no row of ``bravo`` through any view, join, macro, subquery or table function,
and cannot lift its restriction; the catalog copy holds no account, password hash or token.

Every string of ``bravo`` (its name, paths, labels, collection, class, question, result sets,
metadata, cue text) contains ``bravo``: a result that shows one of its rows shows that word."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tagscope.domain import (
    Label,
    LabelKind,
    MediaInfo,
    Modality,
    NewItem,
    NotFoundError,
    SqlError,
    SqlRefusedError,
)
from tagscope.domain.ontology import QuestionKind
from tagscope.store import Catalog
from tagscope.store.access_schema import ApiTokenRow, LoginFailureRow, SessionRow, UserRow
from tagscope.store.collection_schema import CollectionItemRow
from tagscope.store.collections import CollectionCatalog, CollectionKind
from tagscope.store.maps import MapStore
from tagscope.store.ontology import OntologyCatalog
from tagscope.store.result_sets import ResultSetCatalog
from tagscope.store.scores import ScoreTables
from tagscope.store.sql import QuerySession, SqlEngine
from tagscope.store.sql_catalog import INTERNAL
from tagscope.store.sql_guard import TABLE_FUNCTIONS

TAGS = ["dog", "cat"]
SECRET = "bravo-secret-digest-0123456789abcdef"  # what the account tables hold


@dataclass
class Dataset:
    id: int
    images: list[int]
    video: int
    shot: int
    keyframes: list[int]
    cue: int

    @property
    def item_ids(self) -> set[int]:
        return {*self.images, self.video, self.shot, *self.keyframes, self.cue}


def _media(n: int) -> MediaInfo:
    return MediaInfo(1000 + n, 64, 48, "jpeg", f"hash{n}")


def _dataset(catalog: Catalog, scores: ScoreTables, name: str) -> Dataset:
    """Images with a label, a video (a shot, two keyframes, a cue), a static collection, a
    class, a question, two result sets, and ``animals`` scores of its images and video."""
    ds = catalog.create_dataset(name)
    label = (Label(LabelKind.CLASSIFICATION, f"{name}-cat", is_main=True),)
    images = [
        NewItem(f"/{name}/img{i}.jpg", _media(i), metadata={"note": f"{name} note"}, labels=label)
        for i in range(3)
    ]
    video = NewItem(f"/{name}/clip.mp4", _media(9), modality=Modality.VIDEO)
    catalog.add_items(ds.id, [*images, video])
    ids = catalog.existing_paths(ds.id, [i.path for i in (*images, video)])
    vid = ids[video.path]
    shot = NewItem(f"/{name}/clip.mp4#shot0", None, modality=Modality.SHOT,
                   metadata={"video_id": vid, "start_ms": 0, "end_ms": 1000})  # fmt: skip
    catalog.add_items(ds.id, [shot])
    shot_id = catalog.existing_paths(ds.id, [shot.path])[shot.path]
    parts = [
        NewItem(f"/{name}/clip.mp4#kf{t}", _media(10 + t), modality=Modality.KEYFRAME,
                metadata={"video_id": vid, "shot_id": shot_id, "keyframe_time_ms": t})
        for t in (0, 500)
    ] + [
        NewItem(f"/{name}/clip.mp4#cue0", None, modality=Modality.TRANSCRIPT, text=f"{name} hi",
                metadata={"video_id": vid, "shot_id": shot_id, "start_ms": 0, "end_ms": 900})
    ]  # fmt: skip
    catalog.add_items(ds.id, parts)
    found = catalog.existing_paths(ds.id, [p.path for p in parts])
    out = Dataset(
        ds.id,
        [ids[i.path] for i in images],
        vid,
        shot_id,
        [found[p.path] for p in parts[:2]],
        found[parts[2].path],
    )
    collection = CollectionCatalog(catalog).create(
        ds.id, f"{name} picks", kind=CollectionKind.STATIC
    )
    with catalog.session() as s:
        s.add_all(CollectionItemRow(collection_id=collection.id, item_id=i) for i in out.images)
    ontology = OntologyCatalog(catalog)
    ontology.add_class(ds.id, f"{name} class")
    ontology.add_question(ds.id, f"{name} question", QuestionKind.TEXT)
    result_sets = ResultSetCatalog(catalog)
    row = {"kind": "classification", "name": f"{name}-cat", "change": "add", "decision": "accepted"}
    for rs in ("review", f"{name}_only"):
        result_sets.create(
            ds.id, rs, job_id=0, description="", created_by="test",
            labels=[{"item_id": out.images[0], **row}],
        )  # fmt: skip
    visual = np.array(sorted([*out.images, *out.keyframes]))
    rng = np.random.default_rng(ds.id)
    scores.write(ds.id, "Animals", 1, "visual", visual, TAGS, rng.random((len(visual), 2)))
    cue = np.array([out.cue])
    scores.write(ds.id, "Animals", 1, "transcript", cue, TAGS, rng.random((1, 2)))
    maps = MapStore(scores.root)  # an embedding map of its images
    maps.start(ds.id, f"{name}-space", {"params": {}, "created_at": "2000-01-01"})
    maps.save_model(ds.id, f"{name}-space", {})
    maps.write_part(ds.id, f"{name}-space", out.images, rng.random((len(out.images), 2)))
    return out


class World:
    """Datasets ``alpha`` and ``bravo``; the group ``secret`` is scored on ``bravo`` only; one
    user with a session, a token and a failed login in the account tables."""

    def __init__(self, catalog: Catalog, scores: ScoreTables) -> None:
        self.catalog, self.scores = catalog, scores
        self.alpha = _dataset(catalog, scores, "alpha")
        self.bravo = _dataset(catalog, scores, "bravo")
        ids = np.array(self.bravo.images)
        scores.write(self.bravo.id, "Secret", 1, "visual", ids, ["bravo tag"], np.ones((3, 1)))
        with catalog.session() as s:
            user = UserRow(name="bravo-user", password_hash=SECRET, role="viewer")
            s.add(user)
            s.flush()
            s.add(ApiTokenRow(user_id=user.id, name="ci", token_hash=SECRET[:64], scope="read"))
            later = datetime.now(UTC) + timedelta(hours=1)
            s.add(SessionRow(user_id=user.id, token_hash=SECRET[::-1][:64], expires_at=later))
            s.add(LoginFailureRow(key=f"user:{SECRET}", failures=1))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("access")
    return World(Catalog.connect(f"sqlite:///{root / 'catalog.db'}"), ScoreTables(root / "scores"))


@pytest.fixture(scope="module")
def engine(world: World) -> SqlEngine:
    engine = SqlEngine(world.catalog, world.scores, timeout_s=20)
    yield engine
    engine.close()


@pytest.fixture()
def alpha(engine: SqlEngine, world: World) -> QuerySession:
    with engine.session({world.alpha.id}) as s:
        yield s


@pytest.fixture()
def owner(engine: SqlEngine) -> QuerySession:
    with engine.session() as s:
        yield s


def _text(result: Any) -> str:
    return repr(result.rows)


# -- every view ---------------------------------------------------------------------------------
def _dataset_of_rows(session: QuerySession, table: str, world: World) -> set[int]:
    """The datasets of a view's rows, told by the columns that name them (the test fails for a
    view with none: a new view must say whose rows it holds)."""
    columns = [c for c, _ in session.tables()[table]]
    by_item = {i: ds.id for ds in (world.alpha, world.bravo) for i in ds.item_ids}
    by_name = {"alpha": world.alpha.id, "bravo": world.bravo.id}
    seen: set[int] = set()
    if table == "datasets":
        return {r[0] for r in session.execute("SELECT id FROM datasets").rows}
    if "collection_id" in columns:  # collections are told by their items below
        columns.remove("collection_id")
    known = [c for c in ("dataset_id", "dataset", "item_id", "video_id") if c in columns]
    assert known or table == "collections", f"{table} has no column telling its dataset"
    for column in known:
        for (value,) in session.execute(f'SELECT DISTINCT "{column}" FROM {table}').rows:
            if value is not None:
                seen.add(by_name[value] if column == "dataset" else by_item.get(value, value))
    return seen


def test_every_view_of_a_restricted_session_shows_only_its_datasets(
    alpha: QuerySession, owner: QuerySession, world: World
) -> None:
    tables = alpha.tables()
    assert {"items", "labels", "collection_items", "rs_review", "dt_animals_visual",
            "dt_animals_transcript", "dt_animals_shot", "dt_animals_video",
            "tags_animals", "maps"} <= set(tables)  # fmt: skip
    for table in tables:
        shown = alpha.execute(f"SELECT * FROM {table}")
        everything = owner.execute(f"SELECT * FROM {table}")
        assert shown.n_rows > 0, table
        assert "bravo" not in _text(shown), table
        assert _dataset_of_rows(alpha, table, world) == {world.alpha.id}, table
        every = _dataset_of_rows(owner, table, world)
        assert every == {world.alpha.id} | ({world.bravo.id} if table != "rs_alpha_only" else set())
        if world.bravo.id in every:
            assert shown.n_rows < everything.n_rows, table


def test_views_of_other_datasets_only_are_not_the_sessions(
    alpha: QuerySession, owner: QuerySession
) -> None:
    hidden = {"rs_bravo_only", "dt_secret_visual", "tags_secret"}
    assert hidden <= set(owner.tables())
    assert not hidden & set(alpha.tables())
    for table in hidden:
        with pytest.raises(SqlError, match=f"unknown table '{table}'"):
            alpha.execute(f"SELECT * FROM {table}")
    assert "bravo" not in repr(alpha.tables())


# -- queries that reach for bravo -----------------------------------------------------------------
REACHING = {
    "join": "SELECT i.path, l.name FROM items i JOIN labels l ON l.item_id = i.id",
    "join by item id": (
        "SELECT l.name FROM labels l JOIN dt_animals_visual s ON s.item_id = l.item_id"
    ),
    "left join": "SELECT d.name, i.path FROM datasets d LEFT JOIN items i ON i.dataset_id = d.id",
    "macros": (
        "SELECT path FROM items WHERE has_label(id, 'bravo-cat') OR in_collection(id, "
        "'bravo picks') UNION ALL SELECT 'bravo' WHERE has_label({b}, 'bravo-cat') "
        "OR in_collection({b}, 'bravo picks')"
    ),
    "scalar subquery": (
        "SELECT (SELECT string_agg(path) FROM items WHERE dataset_id = {bravo}), "
        "(SELECT count(*) FROM labels WHERE item_id = {b}) > 0 AS bravo"
    ),
    "exists": "SELECT 'bravo' WHERE EXISTS (SELECT 1 FROM items WHERE dataset = 'bravo')",
    "in": "SELECT path FROM items WHERE id IN (SELECT item_id FROM collection_items)",
    "union": (
        "SELECT path FROM items UNION SELECT name FROM labels UNION SELECT title FROM "
        "collections UNION SELECT name FROM classes UNION SELECT name FROM questions "
        "UNION SELECT class FROM rs_review UNION SELECT text FROM items"
    ),
    "recursive cte": (
        "WITH RECURSIVE r(id) AS (SELECT 0 UNION ALL SELECT id + 1 FROM r WHERE id < 200) "
        "SELECT i.path FROM r JOIN items i ON i.id = r.id"
    ),
    "lateral": "SELECT x.path FROM range(300) t(n), LATERAL (SELECT path FROM items "
    "WHERE id = t.n) x",
    "wide scores": "SELECT i.path FROM tags_animals t JOIN items i ON i.id = t.item_id",
    "aggregates": (
        "SELECT v.item_id, i.path FROM dt_animals_video v JOIN items i ON i.id = v.item_id "
        "UNION ALL SELECT s.item_id, i.path FROM dt_animals_shot s JOIN items i "
        "ON i.id = s.item_id"
    ),
    "json of a view": "SELECT to_json(list(i)) FROM items i",
    "summarize": "SUMMARIZE items",
    "metadata": "SELECT note, metadata FROM items",
}


@pytest.mark.parametrize("name", sorted(REACHING))
def test_no_query_reaches_bravo(
    name: str, alpha: QuerySession, owner: QuerySession, world: World
) -> None:
    sql = REACHING[name].format(bravo=world.bravo.id, b=world.bravo.images[0])
    assert "bravo" in _text(owner.execute(sql))  # the query does reach bravo's rows
    assert "bravo" not in _text(alpha.execute(sql))


TABLE_FUNCTION_QUERIES = {
    "range": "SELECT i.path FROM range(1000) r(n) JOIN items i ON i.id = r.n",
    "generate_series": "SELECT i.path FROM generate_series(0, 1000) g(n) JOIN items i "
    "ON i.id = g.n",
    "unnest": "SELECT * FROM unnest((SELECT list(path) FROM items))",
    "json_each": "SELECT value FROM json_each((SELECT to_json(list(path)) FROM items))",
    "json_tree": "SELECT value FROM json_tree((SELECT to_json(list(name)) FROM labels))",
    "pragma_table_info": "SELECT * FROM pragma_table_info('items')",
    "pragma_show": "SELECT * FROM pragma_show('items')",
    "duckdb_columns": "SELECT * FROM duckdb_columns()",
    "duckdb_constraints": "SELECT * FROM duckdb_constraints()",
    "duckdb_functions": "SELECT function_name, macro_definition FROM duckdb_functions() "
    "WHERE schema_name = 'main'",
    "duckdb_keywords": "SELECT * FROM duckdb_keywords()",
    "duckdb_schemas": "SELECT * FROM duckdb_schemas()",
    "duckdb_tables": "SELECT * FROM duckdb_tables()",
    "duckdb_types": "SELECT * FROM duckdb_types()",
}
LISTINGS = {
    "duckdb_tables()": "SELECT table_name, estimated_size FROM duckdb_tables()",
    "duckdb_columns()": "SELECT table_name, column_name FROM duckdb_columns()",
    "information_schema": "SELECT table_name FROM information_schema.columns",
    "pg_catalog": "SELECT relname, reltuples FROM pg_catalog.pg_class",
    "SHOW TABLES": "SHOW TABLES",
    "SHOW ALL TABLES": "SHOW ALL TABLES",
    "PRAGMA show_tables": "PRAGMA show_tables",
}


def test_every_allowed_table_function_is_tried() -> None:
    assert set(TABLE_FUNCTION_QUERIES) == TABLE_FUNCTIONS


@pytest.mark.parametrize("name", sorted(TABLE_FUNCTIONS))
def test_table_functions_show_no_row_of_bravo(
    name: str, alpha: QuerySession, owner: QuerySession
) -> None:
    sql = TABLE_FUNCTION_QUERIES[name]
    owner.execute(sql)  # the owner may run each
    try:
        result = alpha.execute(sql)
    except SqlRefusedError as exc:  # one that lists every dataset's tables
        assert "this session reads only some" in str(exc)
        return
    assert "bravo" not in _text(result)


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_listings_of_the_whole_catalog_are_refused_to_a_restricted_session(
    name: str, alpha: QuerySession, owner: QuerySession
) -> None:
    owner.execute(LISTINGS[name])
    with pytest.raises(SqlRefusedError, match="lists or counts the tables of every dataset"):
        alpha.execute(LISTINGS[name])


def test_a_restricted_session_still_describes_its_tables(alpha: QuerySession) -> None:
    described = alpha.execute("DESCRIBE items").rows
    assert ("path", "VARCHAR") in [r[:2] for r in described]
    assert alpha.execute("PRAGMA table_info('labels')").n_rows > 0


def test_explain_analyze_reads_no_file_or_row_of_bravo(
    alpha: QuerySession, owner: QuerySession, world: World
) -> None:
    sql = "EXPLAIN ANALYZE SELECT * FROM dt_animals_visual"
    bravo_files = f"animals/{world.bravo.id}/visual"
    assert bravo_files in _text(owner.execute(sql))
    plan = _text(alpha.execute(sql))
    assert f"animals/{world.alpha.id}/visual" in plan
    assert bravo_files not in plan
    assert "bravo" not in _text(alpha.execute("EXPLAIN ANALYZE SELECT * FROM items"))


PLAN_FORMATS = [
    "", "ANALYZE", "(FORMAT json)", "(FORMAT yaml)", "(FORMAT html)", "(FORMAT graphviz)",
    "(ANALYZE, FORMAT json)", "(ANALYZE, FORMAT graphviz)",
]  # fmt: skip
COUNTS = re.compile(
    r"(?i)~\d|estimated[ _]cardinality[^\d?]{0,20}\d|row groups scanned\D{0,20}\d+ / "
)


@pytest.mark.parametrize("options", PLAN_FORMATS)
def test_plans_count_no_row_of_another_dataset(
    options: str, alpha: QuerySession, owner: QuerySession
) -> None:
    """Estimates and row group totals count every dataset's rows: a restricted session's plans
    leave them out, whatever the format."""
    sql = f"EXPLAIN {options} SELECT * FROM items JOIN labels ON labels.item_id = items.id"
    assert COUNTS.search(_text(owner.execute(sql)))
    assert not COUNTS.search(_text(alpha.execute(sql)))


def test_the_owner_runs_without_a_filter(
    alpha: QuerySession, owner: QuerySession, world: World
) -> None:
    """The variables fold into constants: the owner's plan has no condition on the dataset,
    a restricted session's has one, pushed into the scan of the copy."""
    sql = "EXPLAIN SELECT count(*), max(path) FROM items"
    assert "Filters:" not in _text(owner.execute(sql))
    assert f"Filters: dataset_id = {world.alpha.id}" in _text(alpha.execute(sql))


# -- the restriction cannot be lifted -------------------------------------------------------------
@pytest.mark.parametrize(
    "sql",
    [
        "SET VARIABLE tagscope_all = true",
        "SET variable tagscope_datasets = [1, 2, 3]",
        "SET SESSION VARIABLE tagscope_all = true",
        "SET GLOBAL VARIABLE tagscope_all = true",
        "RESET VARIABLE tagscope_datasets",
        "RESET VARIABLE tagscope_all",
        "SELECT 1; SET VARIABLE tagscope_all = true",
        "/* x */ SET VARIABLE tagscope_all = true; -- y",
        "EXPLAIN SET VARIABLE tagscope_all = true",
        "SELECT * FROM query('SET VARIABLE tagscope_all = true')",
        "CALL set_variable('tagscope_all', true)",
    ],
)
def test_the_variables_cannot_be_set(sql: str, alpha: QuerySession) -> None:
    with pytest.raises(SqlRefusedError):
        alpha.execute(sql)
    assert "bravo" not in _text(alpha.execute("SELECT name FROM datasets"))


def test_reading_the_variables_widens_nothing(alpha: QuerySession, world: World) -> None:
    result = alpha.execute(
        "SELECT getvariable('tagscope_all'), getvariable('tagscope_datasets'), "
        "(SELECT count(*) FROM items WHERE getvariable('tagscope_all') OR true)"
    )
    assert result.rows == [(None, [world.alpha.id], len(world.alpha.item_ids))]


def test_the_sessions_do_not_share_their_variables(engine: SqlEngine, world: World) -> None:
    with engine.session({world.bravo.id}) as bravo, engine.session({world.alpha.id}) as alpha:
        with engine.session() as owner:
            assert owner.execute("SELECT count(*) FROM datasets").rows == [(2,)]
        assert alpha.execute("SELECT name FROM datasets").rows == [("alpha",)]
        assert bravo.execute("SELECT name FROM datasets").rows == [("bravo",)]


def test_a_connection_without_the_variables_sees_nothing(engine: SqlEngine) -> None:
    with engine.session() as owner:
        tables = sorted(owner.tables())
    # A connection the engine did not restrict (as a forgotten call would give): fail closed.
    con = engine._con.cursor()
    try:
        for table in tables:
            assert con.execute(f"SELECT count(*) FROM main.{table}").fetchall() == [(0,)], table
    finally:
        con.close()


def test_no_dataset_sees_nothing_and_a_function_picks_them(engine: SqlEngine, world: World) -> None:
    with engine.session(frozenset()) as none:
        assert none.execute("SELECT count(*) FROM items").rows == [(0,)]
        assert not any(t.startswith(("dt_", "tags_", "rs_")) for t in none.tables())
    seen: list[frozenset[int]] = []

    def readable(ids: frozenset[int]) -> frozenset[int]:
        seen.append(ids)
        return frozenset({world.bravo.id})

    with engine.session(readable) as bravo:
        assert bravo.execute("SELECT DISTINCT dataset FROM items").rows == [("bravo",)]
    assert seen == [frozenset({world.alpha.id, world.bravo.id})]


# -- grid filters ---------------------------------------------------------------------------------
def test_grid_filters_of_a_restricted_session(
    alpha: QuerySession, owner: QuerySession, world: World
) -> None:
    oracle = "EXISTS (SELECT 1 FROM items b WHERE b.dataset = 'bravo')"
    assert owner.filter_items("alpha", oracle).total == len(world.alpha.item_ids)
    assert alpha.filter_items("alpha", oracle).total == 0
    assert alpha.filter_items("alpha", "tags_animals.dog >= 0").total == len(world.alpha.item_ids)
    assert alpha.label_counts("alpha", "true") == {"alpha-cat": 3}
    with pytest.raises(NotFoundError, match="no dataset named 'bravo'"):
        alpha.filter_items("bravo")
    with pytest.raises(SqlError, match="no scores for 'tags_secret'"):
        alpha.filter_items("alpha", "tags_secret.bravo_tag > 0")


# -- the catalog copy -----------------------------------------------------------------------------
def test_the_copy_holds_no_account_password_or_token(engine: SqlEngine) -> None:
    with engine.session():  # copied up to date
        pass
    con = engine._con.cursor()
    try:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() UNION ALL "
            "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
        names = {t for _, t in tables}
        assert not names & {"users", "user_dataset_roles", "api_tokens", "sessions",
                            "login_failures"}  # fmt: skip
        assert {"items", "labels"} <= {t for s, t in tables if s == INTERNAL}
        for schema, table in tables:
            if not table.startswith(("dt_", "tags_")):
                rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
                assert SECRET[:16] not in repr(rows), table
                assert "bravo-user" not in repr(rows), table
        columns = {c for (c,) in con.execute("SELECT column_name FROM duckdb_columns()").fetchall()}
        assert not columns & {"password_hash", "token_hash"}
    finally:
        con.close()


def test_a_snapshot_keeps_the_labels_dataset(world: World, tmp_path: Path) -> None:
    snapshot = tmp_path / "sql.duckdb"
    first = SqlEngine(world.catalog, world.scores, snapshot=snapshot)
    first.refresh()
    first._copy.save()
    first.close()
    again = SqlEngine(world.catalog, world.scores, snapshot=snapshot)
    try:
        with again.session({world.alpha.id}) as s:
            assert again._copy.rows_fetched == 0  # all from the snapshot
            assert s.execute("SELECT DISTINCT name FROM labels").rows == [("alpha-cat",)]
    finally:
        again.close()


ORACLES = [
    "SELECT * FROM items WHERE error(path) IS NULL",
    "SELECT CAST(path AS INT) FROM items",
    "SELECT * FROM items WHERE id < 3 AND CAST(path AS INT) = 0",
    "SELECT * FROM items WHERE starts_with(path, '/alpha') AND error('hit') IS NULL",
    "SELECT * FROM items WHERE COALESCE(error(path), true)",
    "SELECT * FROM labels WHERE error(name) IS NULL",
    "SELECT * FROM datasets WHERE error(name) IS NULL",
    "SELECT * FROM collections WHERE error(title) IS NULL",
    "SELECT * FROM classes WHERE error(name) IS NULL",
    "SELECT * FROM questions WHERE error(name) IS NULL",
    "SELECT * FROM rs_review WHERE error(path) IS NULL",
    "SELECT * FROM items i JOIN labels l ON l.item_id = i.id AND error(l.name) IS NULL",
]


@pytest.mark.parametrize("sql", ORACLES)
def test_errors_name_no_row_of_another_dataset(sql: str, engine: SqlEngine, world: World) -> None:
    """A query that fails on the first row it sees fails on one of the session's own (alpha's
    rows come first in every table): the datasets' filter runs before any of the query's."""
    with engine.session({world.bravo.id}) as bravo:
        try:
            shown = _text(bravo.execute(sql))
        except SqlError as exc:
            shown = str(exc)
    assert "alpha" not in shown
    assert "hit" not in shown
