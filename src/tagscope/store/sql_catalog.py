"""An in-memory DuckDB copy of the catalog's ``datasets``, ``items`` and ``labels`` for the SQL
engine (:mod:`tagscope.store.sql`), kept up to date incrementally.

DuckDB's sqlite/postgres extensions on PyPI do not match the duckdb version in use (and would need
one code path per database), so rows come through SQLAlchemy: one streaming pass of the DB-API
cursor into Arrow batches, about 10 µs a row. :meth:`CatalogCopy.refresh` reads the catalog's state
(the datasets, ``max(id)`` of items and labels, the tags' thresholds: index look-ups) and fetches
only rows with ids above those it has; a deleted dataset drops its rows. Edits in place (an item's
text) show after :meth:`CatalogCopy.reset`.

Items get one column per simple top-level metadata field (an identifier, at most 100 fields), typed
from the JSON values (BIGINT, DOUBLE, BOOLEAN, VARCHAR, or JSON for lists and objects), plus
``video_id``, ``keyframe_time_ms`` and ``keyframe_index`` always (NULL where absent).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from sqlalchemy import Integer, Select, Text, cast, func, select

from tagscope.store.catalog import Catalog
from tagscope.store.schema import DatasetRow, ItemRow, LabelRow
from tagscope.store.sql_guard import sql_ident, sql_string
from tagscope.store.tag_schema import TagGroupRow, TagRow

INTERNAL = "_tagscope"  # the schema of the copies; sessions read them through views only
_BATCH = 50_000
_MAX_META_COLUMNS = 100
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

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
    ]
)
# Metadata fields that are always columns (NULL where absent): video structure (SPEC F-40).
_FIXED_META = ("video_id", "keyframe_time_ms", "keyframe_index")
_RESERVED = {c.lower() for c in (*_ITEMS.names, "dataset", *_FIXED_META)}


@dataclass(frozen=True, slots=True)
class CatalogState:
    """The catalog's state as a refresh saw it."""

    datasets: tuple[tuple[int, str, str], ...]  # (id, name, description)
    max_item: int
    max_label: int
    thresholds: dict[tuple[str, str], float]  # (group slug, tag name) -> current threshold

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

    Not thread-safe: the SQL engine refreshes it under its lock.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
        self.con = con
        self.catalog = catalog
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {INTERNAL}")
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next refresh copies the catalog whole."""
        self.datasets: tuple[tuple[int, str, str], ...] = ()
        self.item_mark = 0
        self.label_mark = 0
        self.meta_types: dict[str, set[str]] = {}
        self.meta_columns: dict[str, str] = dict.fromkeys(_FIXED_META, "BIGINT")
        self._create_tables()

    def refresh(self) -> CatalogState:
        """Copy what changed since the last refresh; return the catalog's state."""
        state = self._catalog_state()
        if state.datasets != self.datasets:
            gone = bool(set(self.datasets) - set(state.datasets))
            self._load_datasets(state.datasets, dropped=gone)
        if state.max_item < self.item_mark or state.max_label < self.label_mark:
            # Rows went missing other than with their dataset: copy everything again.
            self.reset()
            self._load_datasets(state.datasets, dropped=False)
        if state.max_item > self.item_mark:
            self._load_items()
        if state.max_label > self.label_mark:
            self._load_labels()
        return state

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
            "kind VARCHAR, name VARCHAR, source VARCHAR, is_main BOOLEAN, score DOUBLE)"
        )

    def _catalog_state(self) -> CatalogState:
        with self.catalog.session() as s:
            datasets = tuple(
                (r.id, r.name, r.description or "")
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
        return CatalogState(datasets, int(max_item), int(max_label), thresholds)

    def _load_datasets(self, datasets: Sequence[tuple[int, str, str]], *, dropped: bool) -> None:
        con = self.con
        ids, names, descriptions = zip(*datasets, strict=True) if datasets else ((), (), ())
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
        if dropped:
            con.execute(
                f"DELETE FROM {INTERNAL}.items WHERE dataset_id NOT IN "
                f"(SELECT id FROM {INTERNAL}.datasets)"
            )
            con.execute(
                f"DELETE FROM {INTERNAL}.labels WHERE item_id NOT IN "
                f"(SELECT id FROM {INTERNAL}.items)"
            )
            # SQLite may hand out the ids of deleted rows again: fetch from what is left.
            self.item_mark = self._max_id("items")
            self.label_mark = self._max_id("labels")
        self.datasets = tuple(datasets)

    def _max_id(self, table: str) -> int:
        rows = self.con.execute(f"SELECT coalesce(max(id), 0) FROM {INTERNAL}.{table}")
        return int(rows.fetchall()[0][0])

    def _load_items(self) -> None:
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
            .where(t.id > self.item_mark)
            .order_by(t.id)
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
        finally:
            con.execute("DROP TABLE IF EXISTS _items_new")
        self.item_mark = self._max_id("items")

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
        columns = {k: _meta_type(v) for k, v in sorted(types.items())}
        fixed = {k: columns.get(k, "BIGINT") for k in _FIXED_META}
        rest = {k: v for k, v in columns.items() if k.lower() not in _RESERVED}
        self.meta_columns = {**fixed, **rest}

    def _item_select(self, source: str) -> str:
        meta = ", ".join(
            f"{_meta_expr(k, t)} AS {sql_ident(k)}" for k, t in self.meta_columns.items()
        )
        cols = ", ".join(n for n in _ITEMS.names if n != "metadata")
        return f"SELECT {cols}, metadata::JSON AS metadata, {meta} FROM {source}"

    def _load_labels(self) -> None:
        t = LabelRow.__table__.c
        stmt = (
            select(t.id, t.item_id, t.kind, t.name, t.source, cast(t.is_main, Integer), t.score)
            .where(t.id > self.label_mark)
            .order_by(t.id)
        )
        con = self.con
        con.register("_labels_batches", _fetch(self.catalog, stmt, _LABELS))
        try:
            con.execute(
                f"INSERT INTO {INTERNAL}.labels SELECT id, item_id, kind, name, source, "
                "is_main::BOOLEAN, score FROM _labels_batches"
            )
        finally:
            con.unregister("_labels_batches")
        self.label_mark = self._max_id("labels")


__all__ = ["INTERNAL", "CatalogCopy", "CatalogState"]
