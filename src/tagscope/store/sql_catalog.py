"""An in-memory DuckDB copy of the catalog's ``datasets``, ``items`` and ``labels`` for the SQL
engine (:mod:`tagscope.store.sql`), kept up to date incrementally and saved as a snapshot.

Only what queries may show is copied: datasets, items, labels, collections, the ontologies and
the result sets; never the accounts' tables (``users``, ``api_tokens``, ``sessions``...), so no
password hash or token digest can be queried. Every copied row carries the id of its dataset
(labels and collection items too, taken from their item and collection), which the engine's views
filter on for a session that may read only some datasets.

DuckDB's sqlite/postgres extensions on PyPI do not match the duckdb version in use (and would need
one code path per database), so rows come through SQLAlchemy: one streaming pass of the DB-API
cursor into Arrow batches, about 10 µs a row. :meth:`CatalogCopy.refresh` reads the catalog's state
(the datasets with their creation time and ``revision``, ``max(id)`` of items and labels, the tags'
thresholds: index look-ups) and fetches only what changed: rows with ids above those it has, and
every row of a dataset that is new, was deleted, was re-created under a reused id, or whose items
were edited in place (its ``revision`` went up).

With a ``snapshot`` path, the copy is saved there (one DuckDB file, replaced atomically) after a
refresh that changed it, at most every :data:`SNAPSHOT_EVERY_S` seconds, and a new copy starts
from it, so a one-shot ``tagscope sql`` or a restarted server fetches only what changed since. A
snapshot of another catalog, of another format or that cannot be read is ignored (and replaced).

Items get one column per simple top-level metadata field (an identifier, at most 100 fields), typed
from the JSON values (BIGINT, DOUBLE, BOOLEAN, VARCHAR, or JSON for lists and objects), plus
``video_id``, ``keyframe_time_ms``, ``keyframe_index``, ``shot_id``, ``start_ms`` and ``end_ms``
always (NULL where absent).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlalchemy import ColumnElement, Integer, Select, Text, cast, func, select

from tagscope.store.catalog import Catalog
from tagscope.store.collection_schema import CollectionItemRow, CollectionRow
from tagscope.store.label_schema import (
    OntologyClassRow,
    OntologyQuestionRow,
    ResultSetLabelRow,
    ResultSetRow,
)
from tagscope.store.schema import ChangeSetRow, DatasetRow, ItemRow, LabelRow
from tagscope.store.sql_guard import sql_ident, sql_string
from tagscope.store.tag_schema import TagGroupRow, TagRow

INTERNAL = "_tagscope"  # the schema of the copies; sessions read them through views only
SNAPSHOT_FORMAT = 3  # 2: labels gained geometry, class_id, area, ...; 3: dataset_id
SNAPSHOT_EVERY_S = 60.0
"""Seconds between two saves of a snapshot while the catalog keeps changing (an import)."""
_BATCH = 50_000
LOAD_ROWS = 1_000_000
"""Items copied (fetched, then inserted) at a time, and rows per batch of a snapshot's stream."""
_MAX_META_COLUMNS = 100
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
log = logging.getLogger(__name__)

_ITEMS = pa.schema(
    [
        ("id", pa.int64()),
        ("dataset_id", pa.int64()),
        ("path", pa.string()),
        ("modality", pa.string()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("format", pa.string()),
        ("size", pa.int64()),
        ("content_hash", pa.string()),
        ("text", pa.string()),
        ("split", pa.string()),
        ("metadata", pa.string()),
    ]
)
_LABELS = pa.schema(
    [
        ("id", pa.int64()),
        ("item_id", pa.int64()),
        ("kind", pa.string()),
        ("name", pa.string()),
        ("source", pa.string()),
        ("is_main", pa.int64()),
        ("score", pa.float64()),
        ("geometry", pa.string()),
        ("class_id", pa.int64()),
        ("area", pa.float64()),
        ("author", pa.string()),
        ("created_at", pa.string()),
        ("model", pa.string()),
        ("dataset_id", pa.int64()),
    ]
)
_COLLECTIONS = pa.schema(
    [
        ("id", pa.int64()),
        ("dataset_id", pa.int64()),
        ("title", pa.string()),
        ("description", pa.string()),
        ("kind", pa.string()),
        ("filter", pa.string()),
    ]
)
_COLLECTION_ITEMS = pa.schema(
    [("collection_id", pa.int64()), ("item_id", pa.int64()), ("dataset_id", pa.int64())]
)
_RESULT_SETS = pa.schema([("id", pa.int64()), ("dataset_id", pa.int64()), ("name", pa.string())])
_RESULT_SET_LABELS = pa.schema(
    [
        ("result_set_id", pa.int64()),
        ("item_id", pa.int64()),
        ("kind", pa.string()),
        ("name", pa.string()),
        ("geometry", pa.string()),
        ("area", pa.float64()),
        ("change", pa.string()),
        ("decision", pa.string()),
    ]
)
_CLASSES = pa.schema(
    [
        ("id", pa.int64()),
        ("dataset_id", pa.int64()),
        ("name", pa.string()),
        ("color", pa.string()),
        ("hotkey", pa.string()),
    ]
)
_QUESTIONS = pa.schema(
    [
        ("id", pa.int64()),
        ("dataset_id", pa.int64()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("options", pa.string()),
        ("required", pa.int64()),
    ]
)
# Metadata fields that are always columns (NULL where absent): video structure (SPEC F-40).
_FIXED_META = ("video_id", "keyframe_time_ms", "keyframe_index", "shot_id", "start_ms", "end_ms")
_RESERVED = {c.lower() for c in (*_ITEMS.names, "dataset", *_FIXED_META)}
RESERVED_COLUMNS = frozenset(_RESERVED)
"""Columns of ``items`` a metadata field of that name (lower case) does not become."""


# A dataset as a copy knows it: (id, name, description, created_at, revision). The last two
# tell a dataset re-created under a reused id, or edited in place, from the one copied.
DatasetKey = tuple[int, str, str, str, int]


@dataclass(frozen=True, slots=True)
class CatalogState:
    """The catalog's state as a refresh saw it."""

    datasets: tuple[DatasetKey, ...]
    max_item: int
    max_label: int
    thresholds: dict[tuple[str, str], float]  # (group slug, tag name) -> current threshold
    # Every change of a collection writes a change-set: the last one's id tells a change.
    max_change_set: int = 0
    # Result sets are saved and deleted, never edited: (how many, the last id) tells a change.
    result_sets: tuple[int, int] = (0, 0)
    # Editing a class writes a change-set; an import creates classes and a question is added or
    # deleted without one: (how many, the last id) of classes and of questions tells those.
    ontology: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def dataset_ids(self) -> set[int]:
        return {d[0] for d in self.datasets}


def _fetch(catalog: Catalog, stmt: Select, schema: pa.Schema) -> pa.RecordBatchReader:
    """Stream ``stmt``'s rows as Arrow batches through the raw DB-API cursor (fast, any engine)."""
    engine = catalog.engine
    sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))

    def batches() -> Iterator[pa.RecordBatch]:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            # PostgreSQL: a server-side cursor, so the rows stream instead of landing at once.
            pg = engine.dialect.name == "postgresql"
            cur = raw.cursor(name="tagscope_sql_copy") if pg else raw.cursor()
            try:
                cur.execute(sql)
                while rows := cur.fetchmany(_BATCH):
                    cols = zip(*rows, strict=True)
                    arrays = [pa.array(c, type=f.type) for c, f in zip(cols, schema, strict=True)]
                    yield pa.RecordBatch.from_arrays(arrays, schema=schema)
            finally:
                cur.close()

    return pa.RecordBatchReader.from_batches(schema, batches())


def _meta_type(json_types: set[str]) -> str:
    kinds = json_types - {"NULL"}
    if kinds <= {"BIGINT", "UBIGINT"}:
        return "BIGINT"
    if kinds <= {"BIGINT", "UBIGINT", "DOUBLE"}:
        return "DOUBLE"
    if kinds in ({"BOOLEAN"}, {"VARCHAR"}):
        return kinds.pop()
    if kinds & {"ARRAY", "OBJECT"}:
        return "JSON"
    return "VARCHAR"


def _meta_expr(key: str, sql_type: str) -> str:
    path = sql_string(f"$.{key}")
    if sql_type == "JSON":
        return f"json_extract(metadata, {path})"
    return f"TRY_CAST(json_extract_string(metadata, {path}) AS {sql_type})"


class CatalogCopy:
    """Tables ``_tagscope.datasets``, ``_tagscope.items`` and ``_tagscope.labels`` of ``con``.

    Parameters
    ----------
    con : duckdb connection
        Where the copy lives (the SQL engine's, before it is locked: loading a snapshot reads no
        file through it).
    catalog : Catalog
    snapshot : path, optional
        The snapshot file to start from and to save to.

    Not thread-safe: the SQL engine refreshes it under its lock. ``rows_fetched`` counts the
    item and label rows read from the catalog (what a snapshot saves).
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, catalog: Catalog, snapshot: Path | None = None
    ) -> None:
        self.con = con
        self.catalog = catalog
        self.snapshot = snapshot
        self.rows_fetched = 0
        self._saved_at = float("-inf")
        self._dirty = False
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {INTERNAL}")
        self.reset()
        if snapshot is not None and snapshot.is_file():
            self._load_snapshot(snapshot)

    def reset(self) -> None:
        """Forget everything: the next refresh copies the catalog whole."""
        self.datasets: tuple[DatasetKey, ...] = ()
        self.item_mark = 0
        self.label_mark = 0
        self.meta_types: dict[str, set[str]] = {}
        self.meta_columns: dict[str, str] = dict.fromkeys(_FIXED_META, "BIGINT")
        self._collections_key: tuple[object, ...] | None = None
        self._result_sets_key: tuple[int, int] | None = None
        self._ontology_key: tuple[object, ...] | None = None
        self.result_set_names: tuple[str, ...] = ()  # distinct, sorted: one view each
        self._create_tables()

    def refresh(self) -> CatalogState:
        """Copy what changed since the last refresh; return the catalog's state."""
        state = self._catalog_state()
        if state.max_item < self.item_mark or state.max_label < self.label_mark:
            # Rows went missing and their ids may come back: copy everything again.
            self.reset()
        if state.datasets != self.datasets:
            self._sync_datasets(state.datasets)
        if state.max_item > self.item_mark:
            self._load_items(ItemRow.id > self.item_mark)
        if state.max_label > self.label_mark:
            self._load_labels(LabelRow.id > self.label_mark)
        if (state.datasets, state.max_change_set) != self._collections_key:
            self._load_collections()
            self._collections_key = (state.datasets, state.max_change_set)
        ontology_key = (state.datasets, state.max_change_set, state.ontology)
        if ontology_key != self._ontology_key:
            self._load_ontology()
            self._ontology_key = ontology_key
        if state.result_sets != self._result_sets_key:
            self._load_result_sets()
            self._result_sets_key = state.result_sets
        if self._dirty and time.monotonic() - self._saved_at >= SNAPSHOT_EVERY_S:
            self.save()
        return state

    def _sync_datasets(self, datasets: tuple[DatasetKey, ...]) -> None:
        """Take the catalog's datasets; drop and fetch again the rows of those that changed."""
        old = {d[0]: d for d in self.datasets}
        new = {d[0]: d for d in datasets}
        # Same id, other creation time or revision: re-created or edited in place.
        changed = {i for i, d in old.items() if i not in new or new[i][3:] != d[3:]}
        added = new.keys() - old.keys()
        self._load_datasets(datasets)
        if changed:
            ids = ", ".join(str(i) for i in sorted(changed))
            self.con.execute(
                f"DELETE FROM {INTERNAL}.labels WHERE item_id IN "
                f"(SELECT id FROM {INTERNAL}.items WHERE dataset_id IN ({ids}))"
            )
            self.con.execute(f"DELETE FROM {INTERNAL}.items WHERE dataset_id IN ({ids})")
            self._dirty = True
        # Rows under the marks that belong to datasets to fetch (new ones may reuse the ids of
        # deleted rows); rows above the marks come with the incremental fetch after this.
        fetch = sorted((changed & new.keys()) | added)
        if fetch and self.item_mark:
            in_fetch = ItemRow.dataset_id.in_(fetch)
            self._load_items(in_fetch & (ItemRow.id <= self.item_mark))
            if self.label_mark:
                items = select(ItemRow.id).where(in_fetch)
                self._load_labels(LabelRow.item_id.in_(items) & (LabelRow.id <= self.label_mark))

    # -- snapshot -------------------------------------------------------------------------
    def save(self) -> None:
        """Write the copy to the snapshot file (a new file, then an atomic replace)."""
        if self.snapshot is None:
            return
        base = ", ".join(n for n in _ITEMS.names if n != "metadata")
        tables = {
            "items": f"SELECT {base}, metadata::VARCHAR AS metadata FROM {INTERNAL}.items",
            "labels": f"SELECT * FROM {INTERNAL}.labels",
        }
        state = {
            "format": SNAPSHOT_FORMAT,
            "catalog": self._catalog_name(),
            "datasets": self.datasets,
            "item_mark": self.item_mark,
            "label_mark": self.label_mark,
            "meta_types": {k: sorted(v) for k, v in self.meta_types.items()},
        }
        self.snapshot.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.snapshot.with_name(f".{self.snapshot.name}.{uuid.uuid4().hex}.tmp")
        try:
            with duckdb.connect(str(tmp)) as out:
                for name, query in tables.items():
                    # Streamed: the rows never stand whole in Arrow beside the copy.
                    out.register("_rows", self.con.sql(query).to_arrow_reader(LOAD_ROWS))
                    out.execute(f"CREATE TABLE {name} AS FROM _rows")
                    out.unregister("_rows")
                out.execute("CREATE TABLE state AS SELECT ? AS json", [json.dumps(state)])
            os.replace(tmp, self.snapshot)
        except (OSError, duckdb.Error) as exc:  # a cache: the copy in memory is still right
            log.warning("could not save the SQL catalog snapshot %s: %s", self.snapshot, exc)
        finally:
            tmp.unlink(missing_ok=True)
        self._saved_at = time.monotonic()
        self._dirty = False

    def _load_snapshot(self, path: Path) -> None:
        try:
            with duckdb.connect(str(path), read_only=True) as src:
                state = json.loads(src.execute("SELECT json FROM state").fetchall()[0][0])
                if state.get("format") != SNAPSHOT_FORMAT or state.get("catalog") != (
                    self._catalog_name()
                ):
                    log.info("ignoring the SQL catalog snapshot %s: another catalog", path)
                    return
                self.meta_types = {k: set(v) for k, v in state["meta_types"].items()}
                self._set_meta_columns()
                # Streamed from the file into the copy: no whole Arrow table on the way.
                into = {
                    "items": f"CREATE OR REPLACE TABLE {INTERNAL}.items AS "
                    f"{self._item_select('_snap')}",
                    "labels": f"INSERT INTO {INTERNAL}.labels SELECT * FROM _snap",
                }
                for table, statement in into.items():  # one open result at a time
                    self.con.register("_snap", src.sql(f"FROM {table}").to_arrow_reader(LOAD_ROWS))
                    try:
                        self.con.execute(statement)
                    finally:
                        self.con.unregister("_snap")
        except (OSError, duckdb.Error, ValueError, KeyError, IndexError) as exc:
            log.warning("ignoring the SQL catalog snapshot %s: %s", path, exc)
            self.reset()
            return
        self._load_datasets(tuple(tuple(d) for d in state["datasets"]))  # type: ignore[misc]
        self.item_mark = int(state["item_mark"])
        self.label_mark = int(state["label_mark"])
        self._dirty = False  # and _saved_at stays -inf: what the first refresh fetches is saved

    def _catalog_name(self) -> str:
        return self.catalog.engine.url.render_as_string(hide_password=True)

    def _create_tables(self) -> None:
        con = self.con
        con.execute(
            f"CREATE OR REPLACE TABLE {INTERNAL}.datasets "
            "(id BIGINT, name VARCHAR, description VARCHAR)"
        )
        con.register("_items_empty", _ITEMS.empty_table())
        try:
            con.execute(
                f"CREATE OR REPLACE TABLE {INTERNAL}.items AS {self._item_select('_items_empty')}"
            )
        finally:
            con.unregister("_items_empty")
        con.execute(
            f"CREATE OR REPLACE TABLE {INTERNAL}.labels (id BIGINT, item_id BIGINT, "
            "kind VARCHAR, name VARCHAR, source VARCHAR, is_main BOOLEAN, score DOUBLE, "
            "geometry JSON, class_id BIGINT, area DOUBLE, author VARCHAR, created_at TIMESTAMPTZ, "
            "model VARCHAR, dataset_id BIGINT)"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {INTERNAL}.collections (id BIGINT, dataset_id BIGINT, "
            "title VARCHAR, description VARCHAR, kind VARCHAR, filter VARCHAR)"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {INTERNAL}.collection_items "
            "(collection_id BIGINT, item_id BIGINT, dataset_id BIGINT)"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {INTERNAL}.classes (id BIGINT, dataset_id BIGINT, "
            "name VARCHAR, color VARCHAR, hotkey VARCHAR)"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {INTERNAL}.questions (id BIGINT, dataset_id BIGINT, "
            "name VARCHAR, kind VARCHAR, options VARCHAR, required BIGINT)"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {INTERNAL}.result_sets "
            "(id BIGINT, dataset_id BIGINT, name VARCHAR)"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {INTERNAL}.result_set_labels (result_set_id BIGINT, "
            "item_id BIGINT, kind VARCHAR, name VARCHAR, geometry VARCHAR, area DOUBLE, "
            "change VARCHAR, decision VARCHAR)"
        )

    def _catalog_state(self) -> CatalogState:
        with self.catalog.session() as s:
            datasets = tuple(
                (r.id, r.name, r.description or "", r.created_at.isoformat(), r.revision)
                for r in s.execute(select(DatasetRow).order_by(DatasetRow.id)).scalars()
            )
            max_item = s.execute(select(func.coalesce(func.max(ItemRow.id), 0))).scalar_one()
            max_label = s.execute(select(func.coalesce(func.max(LabelRow.id), 0))).scalar_one()
            rows = s.execute(
                select(TagGroupRow.slug, TagRow.name, TagRow.threshold)
                .join(TagRow, TagRow.group_id == TagGroupRow.id)
                .order_by(TagGroupRow.slug, TagRow.name)
            )
            thresholds = {(slug, name): float(t) for slug, name, t in rows}
            changes = s.execute(select(func.coalesce(func.max(ChangeSetRow.id), 0))).scalar_one()
            n_sets, last_set = s.execute(
                select(func.count(), func.coalesce(func.max(ResultSetRow.id), 0))
            ).one()
            n_classes, last_class, n_questions, last_question = (
                int(v)
                for row in (OntologyClassRow, OntologyQuestionRow)
                for v in s.execute(select(func.count(), func.coalesce(func.max(row.id), 0))).one()
            )
        return CatalogState(
            datasets,
            int(max_item),
            int(max_label),
            thresholds,
            int(changes),
            (int(n_sets), int(last_set)),
            (n_classes, last_class, n_questions, last_question),
        )

    def _load_datasets(self, datasets: Sequence[DatasetKey]) -> None:
        con = self.con
        ids, names, descriptions = (
            zip(*(d[:3] for d in datasets), strict=True) if datasets else ((), (), ())
        )
        table = pa.table(
            {
                "id": pa.array(ids, pa.int64()),
                "name": pa.array(names, pa.string()),
                "description": pa.array(descriptions, pa.string()),
            }
        )
        con.register("_datasets_new", table)
        try:
            con.execute(f"DELETE FROM {INTERNAL}.datasets")
            con.execute(f"INSERT INTO {INTERNAL}.datasets SELECT * FROM _datasets_new")
        finally:
            con.unregister("_datasets_new")
        self.datasets = tuple(datasets)
        self._dirty = True

    def _max_id(self, table: str) -> int:
        rows = self.con.execute(f"SELECT coalesce(max(id), 0) FROM {INTERNAL}.{table}")
        return int(rows.fetchall()[0][0])

    def _load_items(self, where: ColumnElement[bool]) -> None:
        """Copy the items matching ``where``, ``LOAD_ROWS`` at a time: the rows fetched wait in
        a temporary table before they are inserted, so a slice, not the whole (10M items: 2 GB
        each, over the engine's memory), is held twice."""
        after = 0
        while True:
            n, last = self._load_item_slice(where & (ItemRow.id > after))
            if n < LOAD_ROWS:
                return
            after = last

    def _load_item_slice(self, where: ColumnElement[bool]) -> tuple[int, int]:
        """Copy the first ``LOAD_ROWS`` items matching ``where`` by id; return how many and the
        last id."""
        t = ItemRow.__table__.c
        stmt = (
            select(
                t.id,
                t.dataset_id,
                t.path,
                t.modality,
                t.width,
                t.height,
                t.format,
                t.size,
                t.content_hash,
                t.text,
                t.split,
                cast(t.metadata, Text),
            )
            .where(where)
            .order_by(t.id)
            .limit(LOAD_ROWS)
        )
        con = self.con
        con.register("_items_batches", _fetch(self.catalog, stmt, _ITEMS))
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE _items_new AS FROM _items_batches")
        finally:
            con.unregister("_items_batches")
        try:
            before = dict(self.meta_columns)
            self._discover_metadata("_items_new")
            new = self._item_select("_items_new")
            if self.meta_columns == before:
                con.execute(f"INSERT INTO {INTERNAL}.items BY NAME {new}")
            else:  # a new field or type: extract every column again
                base = ", ".join(_ITEMS.names)
                old = self._item_select(f"(SELECT {base} FROM {INTERNAL}.items)")
                con.execute(f"CREATE OR REPLACE TABLE {INTERNAL}.items AS {old} UNION ALL {new}")
            n, last = con.execute(
                "SELECT count(*), coalesce(max(id), 0) FROM _items_new"
            ).fetchall()[0]
            self.rows_fetched += n
        finally:
            con.execute("DROP TABLE IF EXISTS _items_new")
        self.item_mark = max(self.item_mark, self._max_id("items"))
        self._dirty = True
        return int(n), int(last)

    def _discover_metadata(self, table: str) -> None:
        rows = self.con.execute(
            f"SELECT k, list(DISTINCT json_type(metadata -> k)) FROM "
            f"(SELECT metadata::JSON AS metadata, unnest(json_keys(metadata::JSON)) AS k "
            f" FROM {table} WHERE metadata IS NOT NULL AND metadata NOT IN ('{{}}', 'null')) "
            f"GROUP BY k ORDER BY k"
        ).fetchall()
        types = self.meta_types
        for key, kinds in rows:
            if _IDENT.match(key) and (key in types or len(types) < _MAX_META_COLUMNS):
                types.setdefault(key, set()).update(kinds)
        self._set_meta_columns()

    def _set_meta_columns(self) -> None:
        columns = {k: _meta_type(v) for k, v in sorted(self.meta_types.items())}
        fixed = {k: columns.get(k, "BIGINT") for k in _FIXED_META}
        rest = {k: v for k, v in columns.items() if k.lower() not in _RESERVED}
        self.meta_columns = {**fixed, **rest}

    def _item_select(self, source: str) -> str:
        meta = ", ".join(
            f"{_meta_expr(k, t)} AS {sql_ident(k)}" for k, t in self.meta_columns.items()
        )
        cols = ", ".join(n for n in _ITEMS.names if n != "metadata")
        return f"SELECT {cols}, metadata::JSON AS metadata, {meta} FROM {source}"

    def _load_labels(self, where: ColumnElement[bool]) -> None:
        t = LabelRow.__table__.c
        stmt = (
            select(
                t.id,
                t.item_id,
                t.kind,
                t.name,
                t.source,
                cast(t.is_main, Integer),
                t.score,
                cast(t.geometry, Text),
                t.class_id,
                t.area,
                t.author,
                cast(t.created_at, Text),
                t.model,
                ItemRow.dataset_id,  # what a session that reads some datasets filters on
            )
            .join(ItemRow, ItemRow.id == t.item_id)
            .where(where)
            .order_by(t.id)
        )
        # SQLite's text of a time has no offset (the catalog writes UTC); PostgreSQL's has one.
        utc = "" if self.catalog.engine.dialect.name == "postgresql" else " || '+00'"
        con = self.con
        con.register("_labels_batches", _fetch(self.catalog, stmt, _LABELS))
        try:
            n = con.execute(
                f"INSERT INTO {INTERNAL}.labels SELECT id, item_id, kind, name, source, "
                "is_main::BOOLEAN, score, geometry::JSON, class_id, area, author, "
                f"(created_at{utc})::TIMESTAMPTZ, model, dataset_id FROM _labels_batches"
            ).fetchall()[0][0]
        finally:
            con.unregister("_labels_batches")
        self.rows_fetched += n
        self.label_mark = max(self.label_mark, self._max_id("labels"))
        self._dirty = True

    def _load_collections(self) -> None:
        """Copy the collections whole (not saved in the snapshot: few rows, and cheap)."""
        c, ci = CollectionRow.__table__.c, CollectionItemRow.__table__.c
        tables = {
            "collections": _fetch(
                self.catalog,
                select(c.id, c.dataset_id, c.title, c.description, c.kind, c.filter),
                _COLLECTIONS,
            ),
            "collection_items": _fetch(
                self.catalog,
                select(ci.collection_id, ci.item_id, c.dataset_id).join(
                    CollectionRow, CollectionRow.id == ci.collection_id
                ),
                _COLLECTION_ITEMS,
            ),
        }
        for name, rows in tables.items():
            self.con.register("_collection_rows", rows)
            try:
                self.con.execute(f"DELETE FROM {INTERNAL}.{name}")
                self.con.execute(f"INSERT INTO {INTERNAL}.{name} SELECT * FROM _collection_rows")
            finally:
                self.con.unregister("_collection_rows")

    def _load_ontology(self) -> None:
        """Copy the classes and questions whole (not saved in the snapshot: few rows)."""
        c, q = OntologyClassRow.__table__.c, OntologyQuestionRow.__table__.c
        questions = select(
            q.id, q.dataset_id, q.name, q.kind, cast(q.options, Text), cast(q.required, Integer)
        )
        tables = {
            "classes": _fetch(
                self.catalog, select(c.id, c.dataset_id, c.name, c.color, c.hotkey), _CLASSES
            ),
            "questions": _fetch(self.catalog, questions, _QUESTIONS),
        }
        for name, rows in tables.items():
            self.con.register("_ontology_rows", rows)
            try:
                self.con.execute(f"DELETE FROM {INTERNAL}.{name}")
                self.con.execute(f"INSERT INTO {INTERNAL}.{name} SELECT * FROM _ontology_rows")
            finally:
                self.con.unregister("_ontology_rows")

    def _load_result_sets(self) -> None:
        """Copy the result sets whole (not saved in the snapshot: they change rarely)."""
        r, t = ResultSetRow.__table__.c, ResultSetLabelRow.__table__.c
        geometry = cast(t.geometry, Text)
        labels = select(
            t.result_set_id, t.item_id, t.kind, t.name, geometry, t.area, t.change, t.decision
        ).order_by(t.id)
        tables = {
            "result_sets": _fetch(self.catalog, select(r.id, r.dataset_id, r.name), _RESULT_SETS),
            "result_set_labels": _fetch(self.catalog, labels, _RESULT_SET_LABELS),
        }
        for name, rows in tables.items():
            self.con.register("_result_set_rows", rows)
            try:
                self.con.execute(f"DELETE FROM {INTERNAL}.{name}")
                self.con.execute(f"INSERT INTO {INTERNAL}.{name} SELECT * FROM _result_set_rows")
            finally:
                self.con.unregister("_result_set_rows")
        found = self.con.execute(f"SELECT DISTINCT name FROM {INTERNAL}.result_sets ORDER BY 1")
        self.result_set_names = tuple(n for (n,) in found.fetchall())


__all__ = ["INTERNAL", "CatalogCopy", "CatalogState"]
