"""The SQL engine (F-40 to F-42): read-only, sandboxed DuckDB sessions over the catalog and scores.

A session sees these views:

``datasets``  id, name, description
``items``     id, dataset_id, dataset (name), path, modality, width, height, format, size,
              content_hash, text, split, video_id, keyframe_time_ms, keyframe_index, shot_id,
              start_ms, end_ms (NULL where absent), metadata (JSON), and one column per simple
              top-level metadata field
              (``series_name``, ``episode_name``, ...) whose name is an identifier
``labels``    item_id, kind, name, source, is_main, score, geometry (JSON: bbox, polygons,
              lines or rle), class_id, area (pixels; NULL for classifications and polylines),
              author, created_at, model
``collections``  id, dataset_id, dataset (name), title, description, kind (static or dynamic),
              filter (a dynamic one's grid filter), n_items (of a static one; NULL for dynamic)
``collection_items``  collection_id, item_id: the items of the *static* collections (a dynamic
              one is evaluated by the grid filter it saved, not here)
``classes``   id, dataset_id, dataset (name), name, color, hotkey: the ontologies' classes
``questions``  id, dataset_id, dataset (name), name, kind (radio, checklist or text), options
              (JSON list), required: the ontologies' classification questions
``rs_<name>``  dataset, item_id, path, kind, class, geometry (JSON), area, change, decision
              (accepted or rejected): the labels of the result sets of that name (F-73)
``dt_<group>_<modality>``  item_id, tag, score, decision, threshold, version: the latest score
              version of every dataset the group scored (modality ``visual`` or
              ``transcript``, where such files exist), then the items' ``video_id``,
              ``shot_id`` and ``keyframe_time_ms`` (visual) or ``start_ms``, ``end_ms``
              (transcript), NULL for images;
              where the datasets hold videos, ``shot`` (item_id a shot's; score the max of its
              keyframes', mean_score their mean) and ``video`` (item_id a video's; score the
              max of its shots', share_above the share of its shots at or above the
              threshold, n_shots) aggregate the visual scores, with video_id, start_ms, end_ms
``pred_<model>``  dataset_id, dataset, model, item_id, class, score, decision, threshold, top,
              split, truth, version, bbox: the predictions of the ready models of that name
              (``-`` read as ``_``), decided at their current thresholds (see
              :mod:`tagscope.store.models`)
``tags_<group>``  item_id and one score column per tag (``tags_animals.dog``,
              ``tags_animals.street_sign``): the wide form grid filters use (F-42), read from
              the versions' wide twins (:mod:`tagscope.store.scores`) where they all have them,
              else the pivot of the long rows

and macros ``has_label(item_id, name)`` and ``in_collection(item_id, title)`` (static ones).

A session may read every dataset (the workspace's owner) or only some (``session(datasets)``:
those the caller may read, F-90); its views then show no row of another dataset, whatever the
query (joins, subqueries, the macros, table functions, ``EXPLAIN ANALYZE``), and it lists only the
``rs_``, ``dt_``, ``pred_`` and ``tags_`` views of result sets, scores and models of its
datasets. Every session
shares the same views: each one filters its rows on the session's DuckDB variables
``tagscope_all`` and ``tagscope_datasets``, which the engine sets on the session's own connection
(variables are per connection) and a query cannot (the guard allows no ``SET``). The views fail
closed: a connection with neither variable set sees no row. DuckDB folds the variables into
constants when it binds the query, so the owner's queries run as they did before (no filter) and
a restricted session's become ``dataset_id IN (...)`` on the copy, and the score files of other
datasets are never read. What counts or names every dataset's tables is kept from a restricted
session too: the guard refuses it the catalog's listings (``duckdb_tables()``,
``information_schema``, ``SHOW TABLES``...), and its plans lose their row estimates.

``decision`` and ``threshold`` follow the catalog's *current* thresholds: score files are
immutable and keep the decision they were written with, and the views recompute it for tags whose
threshold was saved since (see :mod:`tagscope.store.scores`).

The catalog's tables are copied into DuckDB and kept up to date incrementally by
:class:`tagscope.store.sql_catalog.CatalogCopy`, which starts from (and saves) a snapshot file when
given one; score files are read in place from Parquet.

The sandbox, two locks deep: every statement is checked first
(:func:`tagscope.store.sql_guard.check_statement`: one read-only statement, no file-reading or
network table functions, only the session's tables), and the DuckDB database itself runs with
external access disabled but for the score folder, extension loading and installing off, Python
replacement scans off, no spilling to a temporary folder, and its configuration locked.

Each query runs under limits, and reaching one is a :class:`~tagscope.domain.SqlError` that names
the limit and how to raise it:

- time (``timeout_s``): a watchdog thread interrupts the statement, while it runs and while its
  result is fetched;
- memory (``memory_limit``, the engine's, from ``TAGSCOPE_SQL_MEMORY_LIMIT``, default 4GB): DuckDB's
  own limit, and the watchdog interrupts the statement when the process grew by more than it
  (DuckDB does not count every string it builds); one chunk of 2,048 huge values can still pass it
  before the interrupt lands; and one value built in one call (``repeat``, ``lpad``, ``rpad``),
  which no interrupt can stop, may hold at most a quarter of the limit (:func:`_cap_values`);
- result size: at most ``max_rows`` rows (more are cut, ``truncated``) and ``max_bytes`` bytes of
  Arrow data (fetched in chunks, stopped past it);
- width: at most ``max_columns`` columns, counted on the parse tree before DuckDB binds the query
  and again on the bound result.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tagscope.domain import (
    NotFoundError,
    SqlError,
    SqlRefusedError,
    SqlTimeoutError,
    ValidationError,
)
from tagscope.domain.tags import group_slug
from tagscope.store.catalog import Catalog
from tagscope.store.maps import MapInfo, MapStore
from tagscope.store.models import PredictionTable, prediction_tables
from tagscope.store.scores import ScoreTables, ScoreVersion
from tagscope.store.sql_catalog import INTERNAL, CatalogCopy, CatalogState
from tagscope.store.sql_guard import (
    Filter,
    SessionTables,
    check_filtered,
    check_statement,
    column_limit,
    compile_filter,
    sql_ident,
    sql_string,
)

DEFAULT_MAX_ROWS = 10_000
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_BYTES = 64 * 2**20
DEFAULT_MAX_COLUMNS = 1_000
DEFAULT_MEMORY_LIMIT = "4GB"
MEMORY_LIMIT_ENV = "TAGSCOPE_SQL_MEMORY_LIMIT"
_BATCH_ROWS = 2048  # one DuckDB vector: the result is counted chunk by chunk
_WATCH_S = 0.01
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.I)
SORTABLE = ("id", "path", "size", "width", "height", "format", "split", "modality")
FIRST_MATCHES_MAX = 10_000
"""First pages up to this long keep their best ids in one pass; longer ones sort (faster)."""
READ_ALL = "tagscope_all"
READ_DATASETS = "tagscope_datasets"
Readable = Collection[int] | Callable[[frozenset[int]], Collection[int] | None] | None
"""What a session may read: dataset ids, a function of every dataset's id returning them (the
policy's ``readable_dataset_ids``), or None for every dataset."""


def _readable(dataset_id: str) -> str:
    """The condition of a view's rows on ``dataset_id`` (a column or an id): the session may read
    the dataset. NULL, so no row, on a connection without the variables (fail closed)."""
    return (
        f"(getvariable('{READ_ALL}') OR "
        f"list_contains(getvariable('{READ_DATASETS}'), {dataset_id}))"
    )


def _restrict(con: duckdb.DuckDBPyConnection, datasets: frozenset[int] | None) -> None:
    """Set the variable the views filter on, on a session's own (new) connection: the owner's
    ``tagscope_all``, else ``tagscope_datasets`` (one statement: a session starts with it;
    ``tagscope_all`` unset is NULL, which the conditions take as false)."""
    if datasets is None:
        con.execute(f"SET VARIABLE {READ_ALL} = true")
    elif datasets:
        con.execute(f"SET VARIABLE {READ_DATASETS} = [{', '.join(map(str, sorted(datasets)))}]")
    else:
        con.execute(f"SET VARIABLE {READ_DATASETS} = []::BIGINT[]")


def tag_column(tag: str) -> str:
    """The column of ``tag`` in a ``tags_<group>`` view: ``"Street Sign"`` → ``street_sign``."""
    col = re.sub(r"\W+", "_", tag.strip().lower()).strip("_")
    return col if col and not col[0].isdigit() else f"t_{col}"


def score_column(group: str, tag: str) -> str:
    """The grid-filter reference to a tag's score: ``score_column("Animals", "dog")`` →
    ``tags_animals.dog``, as in ``tags_animals.dog >= 0.8``."""
    return f"tags_{group_slug(group)}.{tag_column(tag)}"


@dataclass(frozen=True, slots=True)
class QueryResult:
    """What a query returned: at most ``max_rows`` rows (``truncated`` if there were more)."""

    columns: list[str]
    types: list[str]
    table: pa.Table
    truncated: bool
    elapsed_ms: float
    limits: Limits | None = None  # those of the query, and when its time limit ends
    deadline: float = float("inf")

    @property
    def n_rows(self) -> int:
        return self.table.num_rows

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        """The rows as tuples of Python values."""
        return self.python_rows(in_time=False)

    def python_rows(self, *, in_time: bool = True, field: str = "sql") -> list[tuple[Any, ...]]:
        """The rows as tuples of Python values; ``in_time``: converting them stops at the query's
        time limit too (a :class:`SqlTimeoutError`), chunk by chunk."""
        rows: list[tuple[Any, ...]] = []
        for batch in self.table.to_batches(max_chunksize=_BATCH_ROWS):
            if in_time and self.limits and time.perf_counter() > self.deadline:
                raise self.limits.time_error(field)
            rows.extend(zip(*(c.to_pylist() for c in batch.columns), strict=True))
        return rows

    def to_arrow(self) -> pa.Table:
        return self.table


def parse_size(text: str, *, field: str = "memory_limit") -> int:
    """Bytes of a size as DuckDB writes it: ``"4GB"`` → 4_000_000_000, ``"512MiB"``, ``"100MB"``."""
    match = _SIZE.match(str(text))
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS or float(match.group(1)) <= 0:
        raise ValidationError(
            f"{field} must be a size such as 4GB, 512MiB or 100MB, got {text!r}", field=field
        )
    return int(float(match.group(1)) * _UNITS[unit])


def _rss_bytes() -> int | None:
    """The process's resident memory (Linux), or None where it cannot be read cheaply."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class _Watchdog:
    """Interrupts a connection's statement at the time limit, or when the process grew by more
    than the memory limit since the statement began; ``reason`` says which fired."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float, memory: int) -> None:
        self._con, self._seconds, self._memory = con, seconds, memory
        self._done = threading.Event()
        self._base = _rss_bytes()
        self.reason: str | None = None
        self.start = time.perf_counter()
        self._thread = threading.Thread(target=self._watch, name="sql-watchdog", daemon=True)

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        deadline = self.start + self._seconds
        while not self._done.wait(min(_WATCH_S, max(0.0, deadline - time.perf_counter()))):
            if time.perf_counter() >= deadline:
                self._fire("time")
                return
            rss = _rss_bytes() if self._base is not None else None
            if rss is not None and rss - self._base > self._memory:
                self._fire("memory")
                return

    def _fire(self, reason: str) -> None:
        self.reason = reason
        self._con.interrupt()


@dataclass(frozen=True, slots=True)
class Limits:
    """What one query may use; reaching a limit is a :class:`SqlError` saying how to raise it."""

    max_rows: int = DEFAULT_MAX_ROWS
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_bytes: int = DEFAULT_MAX_BYTES
    max_columns: int = DEFAULT_MAX_COLUMNS
    memory_limit: str = DEFAULT_MEMORY_LIMIT

    def time_error(self, field: str) -> SqlTimeoutError:
        return SqlTimeoutError(
            f"query stopped at the time limit ({self.timeout_s:g} s, timeout_s): filter or "
            "aggregate more, add a LIMIT, or raise the limit (tagscope sql --timeout, the API's "
            "and the SDK's timeout_s)",
            field=field,
        )

    def memory_error(self, field: str) -> SqlError:
        return SqlError(
            f"query stopped at the memory limit ({self.memory_limit}, memory_limit): filter or "
            f"aggregate more, or raise the limit with the environment variable {MEMORY_LIMIT_ENV} "
            "of the server or SDK process (tagscope sql --memory-limit)",
            field=field,
        )

    def bytes_error(self, field: str) -> SqlError:
        return SqlError(
            f"the result is larger than the limit of {self.max_bytes:,} bytes (max_bytes): "
            "select fewer or smaller columns or rows, or raise the limit (tagscope sql "
            "--max-bytes, the API's and the SDK's max_bytes)",
            field=field,
        )


@dataclass(frozen=True, slots=True)
class FilteredItems:
    """A page of item ids matching a grid filter, and how many match in all."""

    ids: list[int]
    total: int


class SqlEngine:
    """Read-only DuckDB sessions over a workspace's catalog and score files.

    Parameters
    ----------
    catalog : Catalog
    scores : ScoreTables
    max_rows : int, default 10_000
        Rows a query returns at most (more are cut and the result says ``truncated``).
    timeout_s : float, default 10.0
        Seconds a query may run before it is interrupted.
    threads : int, optional
        DuckDB worker threads (default: one per core).
    memory_limit : str, optional
        Memory the queries may use, e.g. ``"4GB"`` or ``"512MiB"`` (default: the environment
        variable ``TAGSCOPE_SQL_MEMORY_LIMIT``, else 4GB). Fixed for the engine's life: DuckDB's
        configuration is locked.
    snapshot : path, optional
        A file to keep the catalog copy in between processes (see
        :class:`~tagscope.store.sql_catalog.CatalogCopy`); without one, each engine copies the
        catalog whole on its first session.

    Examples
    --------
    >>> engine = SqlEngine(ws.catalog, ScoreTables(ws.paths.scores))
    >>> with engine.session() as s:
    ...     s.execute("SELECT tag, count(*) FROM dt_animals_visual WHERE decision GROUP BY tag")
    """

    def __init__(
        self,
        catalog: Catalog,
        scores: ScoreTables,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        threads: int | None = None,
        memory_limit: str | None = None,
        snapshot: Path | None = None,
    ) -> None:
        self.catalog = catalog
        self.scores = scores
        self.max_rows = max_rows
        self.timeout_s = timeout_s
        self.memory_limit = memory_limit or os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT
        self.memory_bytes = parse_size(self.memory_limit)
        self._lock = threading.Lock()
        self._views_key: Any = None
        self._facts_key: Any = None
        self._facts = _CopyFacts()
        self._tables: frozenset[str] = frozenset()
        self._wide: dict[str, WideView] = {}
        self._view_datasets: dict[str, frozenset[int]] = {}  # rs_, dt_, tags_: whose rows
        self._con = self._connect(threads)
        self._copy = CatalogCopy(self._con, catalog, snapshot)

    def _connect(self, threads: int | None) -> duckdb.DuckDBPyConnection:
        config: dict[str, Any] = {
            "memory_limit": f"{self.memory_bytes}B",
            "temp_directory": "",  # no spilling: a query over the limit stops instead
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "allow_unsigned_extensions": False,
            "allow_persistent_secrets": False,
            "python_enable_replacements": False,
        }
        if threads:
            config["threads"] = threads
        con = duckdb.connect(":memory:", config=config)
        scores_dir = str(self.scores.root.resolve()).rstrip("/") + "/"
        con.execute(f"SET allowed_directories = [{sql_string(scores_dir)}]")
        # Score files are immutable: their footers are parsed once, not on every grid filter.
        con.execute("SET parquet_metadata_cache = true")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        _cap_values(con, self.memory_bytes // 4, self.memory_limit)
        return con

    # -- sessions -------------------------------------------------------------------------
    def session(self, datasets: Readable = None) -> QuerySession:
        """A session over the catalog and scores as they are now (refreshed if they changed).

        ``datasets``: the ids of the datasets it may read (no view shows a row of another), or a
        function given every dataset's id that returns them; None: every dataset.
        """
        with self._lock:
            state = self._refresh()
            if callable(datasets):
                datasets = datasets(frozenset(state.dataset_ids))
            shown = None if datasets is None else frozenset(int(d) for d in datasets)
            tables = self._tables_of(shown)
            con = self._con.cursor()
            try:
                _restrict(con, shown)
            except BaseException:
                con.close()
                raise
            return QuerySession(
                con,
                tables=tables,
                wide={k: v for k, v in self._wide.items() if k in tables},
                datasets=shown,
                limits=Limits(
                    max_rows=self.max_rows,
                    timeout_s=self.timeout_s,
                    memory_limit=self.memory_limit,
                ),
                memory_bytes=self.memory_bytes,
                hidden=str(self.scores.root.resolve()),
                facts=self._facts_of(state),
            )

    def _facts_of(self, state: CatalogState) -> _CopyFacts:
        """The facts of the copy as ``state`` left it: its items change only with a dataset's
        key (its revision goes up on an edit or a removal) or with new items. A new state gets
        new facts; a session of the old one fills its own. (A new score version leaves a pair
        marked partly scored until then: the join it then reads is slower, never wrong.)"""
        key = (state.datasets, state.max_item)
        if key != self._facts_key:
            self._facts_key, self._facts = key, _CopyFacts()
        return self._facts

    def _tables_of(self, shown: frozenset[int] | None) -> SessionTables:
        """The tables of a session that reads ``shown`` (every dataset: None): the ``rs_``,
        ``dt_`` and ``tags_`` views of result sets and scores of none of them are left out."""
        if shown is None:
            return SessionTables(self._tables)
        seen = self._view_datasets
        return SessionTables(
            (t for t in self._tables if t not in seen or seen[t] & shown), list_catalog=False
        )

    def refresh(self, *, full: bool = False) -> None:
        """Bring the copy of the catalog up to date; ``full`` copies everything again."""
        with self._lock:
            if full:
                self._copy.reset()
            self._refresh()

    def close(self) -> None:
        self._con.close()

    def _refresh(self) -> CatalogState:
        state = self._copy.refresh()
        scored = [v for v in self.scores.scored() if v.dataset_id in state.dataset_ids]
        maps = [m for m in MapStore(self.scores.root).maps() if m.dataset_id in state.dataset_ids]
        preds = [
            p
            for p in prediction_tables(self.catalog, self.scores.root)
            if p.dataset_id in state.dataset_ids
        ]
        meta = tuple(self._copy.meta_columns.items())
        sets = self._copy.result_set_names
        key = (
            meta,
            tuple(state.thresholds.items()),
            _files_key(scored),
            sets,
            _maps_key(maps),
            _preds_key(preds),
        )
        if key != self._views_key:
            self._create_views(scored, state.thresholds, maps, preds)
            self._views_key = key
        return state

    # -- views ----------------------------------------------------------------------------
    def _create_views(
        self,
        scored: Sequence[ScoreVersion],
        thresholds: dict[tuple[str, str], float],
        maps: Sequence[MapInfo] = (),
        preds: Sequence[PredictionTable] = (),
    ) -> None:
        con = self._con
        meta = "".join(f", i.{sql_ident(k)}" for k in self._copy.meta_columns)
        con.execute(
            f"CREATE OR REPLACE VIEW main.datasets AS "
            f"SELECT id, name, description FROM {INTERNAL}.datasets WHERE {_readable('id')}"
        )
        con.execute(
            "CREATE OR REPLACE VIEW main.items AS SELECT i.id, i.dataset_id, d.name AS dataset, "
            "i.path, i.modality, i.width, i.height, i.format, i.size, i.content_hash, i.text, "
            f"i.split{meta}, i.metadata FROM {INTERNAL}.items i "
            f"JOIN {INTERNAL}.datasets d ON d.id = i.dataset_id WHERE {_readable('i.dataset_id')}"
        )
        con.execute(
            # No label id: has_label(id, ...) and filters on items read ``id`` as the item's.
            "CREATE OR REPLACE VIEW main.labels AS SELECT item_id, kind, name, source, "
            "is_main, score, geometry, class_id, area, author, created_at, model "
            f"FROM {INTERNAL}.labels WHERE {_readable('dataset_id')}"
        )
        con.execute(
            "CREATE OR REPLACE MACRO main.has_label(item, label_name) AS EXISTS "
            "(SELECT 1 FROM main.labels l WHERE l.item_id = item AND l.name = label_name)"
        )
        con.execute(
            "CREATE OR REPLACE VIEW main.collections AS SELECT c.id, c.dataset_id, "
            "d.name AS dataset, c.title, c.description, c.kind, c.filter, "
            "CASE WHEN c.kind = 'static' THEN coalesce(n.n, 0) END AS n_items "
            f"FROM {INTERNAL}.collections c JOIN {INTERNAL}.datasets d ON d.id = c.dataset_id "
            f"LEFT JOIN (SELECT collection_id, count(*) AS n FROM {INTERNAL}.collection_items "
            "GROUP BY collection_id) n ON n.collection_id = c.id "
            f"WHERE {_readable('c.dataset_id')}"
        )
        con.execute(
            "CREATE OR REPLACE VIEW main.collection_items AS SELECT collection_id, item_id "
            f"FROM {INTERNAL}.collection_items WHERE {_readable('dataset_id')}"
        )
        con.execute(
            "CREATE OR REPLACE MACRO main.in_collection(item, collection_title) AS EXISTS "
            "(SELECT 1 FROM main.collection_items ci WHERE ci.item_id = item AND "
            "ci.collection_id IN (SELECT c.id FROM main.collections c "
            "WHERE c.title = collection_title))"
        )
        con.execute(
            "CREATE OR REPLACE VIEW main.classes AS SELECT c.id, c.dataset_id, d.name AS dataset, "
            f"c.name, c.color, c.hotkey FROM {INTERNAL}.classes c "
            f"JOIN {INTERNAL}.datasets d ON d.id = c.dataset_id WHERE {_readable('c.dataset_id')}"
        )
        con.execute(
            "CREATE OR REPLACE VIEW main.questions AS SELECT q.id, q.dataset_id, d.name AS "
            "dataset, q.name, q.kind, q.options::JSON AS options, q.required::BOOLEAN AS required "
            f"FROM {INTERNAL}.questions q JOIN {INTERNAL}.datasets d ON d.id = q.dataset_id "
            f"WHERE {_readable('q.dataset_id')}"
        )
        wanted = {
            "datasets",
            "items",
            "labels",
            "collections",
            "collection_items",
            "classes",
            "questions",
            "maps",
        }
        con.execute(f"CREATE OR REPLACE VIEW main.maps AS {_maps_select(maps)}")
        shows: dict[str, frozenset[int]] = {}  # the views of some datasets' rows: which
        of_sets = con.execute(
            f"SELECT name, list(DISTINCT dataset_id) FROM {INTERNAL}.result_sets GROUP BY name"
        ).fetchall()
        set_datasets = {name: frozenset(ids) for name, ids in of_sets}
        for rs in self._copy.result_set_names:
            con.execute(
                f"CREATE OR REPLACE VIEW main.{sql_ident('rs_' + rs)} AS SELECT d.name AS "
                "dataset, l.item_id, i.path, l.kind, l.name AS class, l.geometry::JSON AS "
                "geometry, l.area, l.change, l.decision "
                f"FROM {INTERNAL}.result_set_labels l "
                f"JOIN {INTERNAL}.result_sets r ON r.id = l.result_set_id "
                f"JOIN {INTERNAL}.items i ON i.id = l.item_id "
                f"JOIN {INTERNAL}.datasets d ON d.id = r.dataset_id "
                f"WHERE r.name = {sql_string(rs)} AND {_readable('r.dataset_id')}"
            )
            wanted.add(f"rs_{rs}")
            shows[f"rs_{rs}"] = set_datasets.get(rs, frozenset())
        for name, of_name in _by_view(preds).items():
            con.execute(f"CREATE OR REPLACE VIEW main.{name} AS {_pred_select(of_name)}")
            wanted.add(name)
            shows[name] = frozenset(p.dataset_id for p in of_name)
        wide: dict[str, WideView] = {}
        for slug in sorted({v.group for v in scored}):
            versions = [v for v in scored if v.group == slug]
            of_group = frozenset(v.dataset_id for v in versions)
            current = {tag: t for (s, tag), t in thresholds.items() if s == slug}
            video = self._has_video({v.dataset_id for v in versions})
            parts = []
            for modality, times in _VIDEO_COLUMNS.items():
                of_modality = [v for v in versions if v.modality == modality]
                if of_modality:
                    name = f"dt_{slug}_{modality}"
                    select_rows = _score_select(of_modality, current)
                    con.execute(
                        f"CREATE OR REPLACE VIEW main.{name} AS "
                        f"{self._with_times(select_rows, times, joined=video)}"
                    )
                    wanted.add(name)
                    parts.append(name)
                    shows[name] = frozenset(v.dataset_id for v in of_modality)
            if video and any(v.modality == "visual" for v in versions):
                for modality, select_rows in _aggregates(slug).items():
                    name = f"dt_{slug}_{modality}"
                    con.execute(f"CREATE OR REPLACE VIEW main.{name} AS {select_rows}")
                    wanted.add(name)
                    parts.append(name)
                    shows[name] = shows[f"dt_{slug}_visual"]
            view = _wide_view(slug, versions, parts)
            con.execute(f"CREATE OR REPLACE VIEW main.{view.name} AS {view.definition()}")
            wanted.add(f"tags_{slug}")
            wide[f"tags_{slug}"] = view
            shows[f"tags_{slug}"] = of_group
        for (name,) in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal"
        ).fetchall():
            if name not in wanted:
                con.execute(f"DROP VIEW main.{sql_ident(name)}")
        self._tables = frozenset(wanted)
        self._wide = wide
        self._view_datasets = shows

    def _has_video(self, dataset_ids: set[int]) -> bool:
        """Whether any of the datasets holds keyframes or transcript cues."""
        ids = ", ".join(str(int(i)) for i in sorted(dataset_ids))
        return bool(
            self._con.execute(
                f"SELECT EXISTS (SELECT 1 FROM {INTERNAL}.items WHERE dataset_id IN ({ids}) "
                "AND modality IN ('keyframe', 'transcript'))"
            ).fetchone()[0]
        )

    def _with_times(self, select_rows: str, times: tuple[str, ...], *, joined: bool) -> str:
        """The score rows with their items' video fields: joined from the items where the
        datasets hold videos, NULL otherwise (a query over images pays no join)."""
        if joined:
            cols = "".join(f", i.{c}" for c in times)
            source = f"({select_rows}) s LEFT JOIN {INTERNAL}.items i ON i.id = s.item_id"
        else:
            types = self._copy.meta_columns
            cols = "".join(f", CAST(NULL AS {types.get(c, 'BIGINT')}) AS {c}" for c in times)
            source = f"({select_rows}) s"
        return (
            f"SELECT s.item_id, s.tag, s.score, s.decision, s.threshold, s.version{cols} "
            f"FROM {source}"
        )


_PLAN_COUNTS = (
    (r"~[\d,.]+[KMGTB]?( rows?)", r"~?\1"),
    (r"(?i)(estimated[ _]cardinality[^\d?]{0,20})\d+", r"\1?"),
    (r"(?i)(row groups scanned[^\d]{0,20}\d+)\s*/\s*\d+", r"\1"),
)
"""What an EXPLAIN shows that counts the rows of every dataset, and what it becomes."""


def _cap_values(con: duckdb.DuckDBPyConnection, max_bytes: int, memory_limit: str) -> None:
    """Shadow the functions that build one huge value from a small input with macros that
    refuse a result over ``max_bytes`` before it is built: a single call cannot be interrupted,
    and DuckDB's memory limit does not count the string (``repeat('x', 10^10)`` would take 10 GB).
    The guard refuses calls qualified with a catalog, so ``system.main.repeat`` is out of reach."""
    message = (
        f"{{}}() would build a value over {max_bytes} bytes, a quarter of the SQL memory limit "
        f"({memory_limit}): raise it with {MEMORY_LIMIT_ENV} (tagscope sql --memory-limit)"
    )
    # A string's bytes (a list's or a blob's text is at least as long as its data).
    size = "strlen(CAST(v AS VARCHAR))"
    macros = {"repeat": ("v, {n}", f"n * {size}"), "lpad": ("v, {n}, c", "n * strlen(c)")}
    macros["rpad"] = macros["lpad"]
    for name, (args, result_bytes) in macros.items():
        # The check guards the count argument, not the call: constant folding evaluates a
        # CASE's branches before choosing, so only an error inside the argument comes first.
        refused = sql_string(message.format(name))
        count = f"CASE WHEN {result_bytes} > {max_bytes} THEN error({refused}) ELSE n END"
        con.execute(
            f"CREATE OR REPLACE MACRO main.{name}({args.format(n='n')}) AS "
            f"system.main.{name}({args.format(n=count)})"
        )


# The score tables read from files, and the video fields of their items each one shows.
_VIDEO_COLUMNS = {
    "visual": ("video_id", "shot_id", "keyframe_time_ms"),
    "transcript": ("video_id", "shot_id", "start_ms", "end_ms"),
}


def _aggregates(slug: str) -> dict[str, str]:
    """The shot and video tables of a group, over its visual scores: a shot scores the max of
    its keyframes' scores (``mean_score`` their mean), a video the max of its shots'
    (``share_above`` the share of its scored shots at or above the threshold); ``decision`` is
    ``score >= threshold`` at the tag's current threshold, as in the visual table."""
    visual = f"main.dt_{slug}_visual"
    shot = (
        "SELECT k.shot_id AS item_id, k.tag, max(k.score) AS score, avg(k.score) AS mean_score, "
        "max(k.score) >= k.threshold AS decision, k.threshold, k.version, k.video_id, "
        f"sh.start_ms, sh.end_ms FROM {visual} k JOIN {INTERNAL}.items sh ON sh.id = k.shot_id "
        "GROUP BY k.shot_id, k.tag, k.threshold, k.version, k.video_id, sh.start_ms, sh.end_ms"
    )
    video = (
        "SELECT s.video_id AS item_id, s.tag, max(s.score) AS score, "
        "avg(CAST(s.decision AS DOUBLE)) AS share_above, max(s.score) >= s.threshold AS "
        "decision, s.threshold, s.version, s.video_id, min(s.start_ms) AS start_ms, "
        f"max(s.end_ms) AS end_ms, count(*) AS n_shots FROM main.dt_{slug}_shot s "
        "GROUP BY s.video_id, s.tag, s.threshold, s.version"
    )
    return {"shot": shot, "video": video}


def _maps_key(maps: Sequence[MapInfo]) -> tuple:
    return tuple((m.dataset_id, m.space, tuple(p.name for p in m.files)) for m in maps)


def _maps_select(maps: Sequence[MapInfo]) -> str:
    """The ``maps`` view: the coordinates of the readable datasets' items still in the catalog
    (each map's files read only by a session that may read its dataset; none: no row)."""
    parts = [
        f"SELECT CAST({int(m.dataset_id)} AS BIGINT) AS dataset_id, {sql_string(m.space)} AS "
        "space, item_id, x, y FROM read_parquet(["
        + ", ".join(sql_string(str(p.resolve())) for p in files)
        + f"]) WHERE {_readable(str(int(m.dataset_id)))}"
        for m in maps
        if (files := m.files)
    ]
    source = " UNION ALL ".join(parts) or (
        "SELECT CAST(NULL AS BIGINT) AS dataset_id, CAST(NULL AS VARCHAR) AS space, "
        "CAST(NULL AS BIGINT) AS item_id, CAST(NULL AS FLOAT) AS x, CAST(NULL AS FLOAT) AS y "
        "WHERE false"
    )
    return (
        "SELECT m.dataset_id, d.name AS dataset, m.space, m.item_id, m.x, m.y "
        f"FROM ({source}) m JOIN {INTERNAL}.datasets d ON d.id = m.dataset_id "
        f"JOIN {INTERNAL}.items i ON i.id = m.item_id AND i.dataset_id = m.dataset_id "
        f"WHERE {_readable('m.dataset_id')}"
    )


def _preds_key(preds: Sequence[PredictionTable]) -> tuple:
    return tuple(
        (p.dataset_id, p.model, p.path.stat().st_mtime_ns, tuple(sorted(p.thresholds.items())))
        for p in preds
    )


def pred_view(model: str) -> str:
    """The SQL view of a model's predictions: ``pred_`` and its name, ``-`` as ``_``."""
    return "pred_" + model.lower().replace("-", "_")


def _by_view(preds: Sequence[PredictionTable]) -> dict[str, list[PredictionTable]]:
    out: dict[str, list[PredictionTable]] = {}
    for p in preds:
        out.setdefault(pred_view(p.model), []).append(p)
    return out


def _pred_select(preds: Sequence[PredictionTable]) -> str:
    """A ``pred_<model>`` view: the rows of the models of that name (one per dataset), decided
    at today's thresholds (compared in float32, as the app decides), of items still there."""

    def rows(p: PredictionTable) -> str:
        limits = " ".join(
            f"WHEN {sql_string(c)} THEN CAST({float(t)!r} AS FLOAT)"
            for c, t in sorted(p.thresholds.items())
        )
        threshold = f"CASE class {limits} ELSE CAST(0.5 AS FLOAT) END" if limits else "0.5"
        return (
            f"SELECT CAST({int(p.dataset_id)} AS BIGINT) AS dataset_id, "
            f"{sql_string(p.model)} AS model, item_id, class, score, "
            f"top AND score >= {threshold} AS decision, CAST({threshold} AS FLOAT) AS threshold, "
            f"top, split, truth, version, bbox "
            f"FROM read_parquet({sql_string(str(p.path.resolve()))}) "
            f"WHERE {_readable(str(int(p.dataset_id)))}"
        )

    source = " UNION ALL ".join(rows(p) for p in preds)
    return (
        "SELECT p.dataset_id, d.name AS dataset, p.model, p.item_id, p.class, p.score, "
        "p.decision, p.threshold, p.top, p.split, p.truth, p.version, p.bbox "
        f"FROM ({source}) p JOIN {INTERNAL}.datasets d ON d.id = p.dataset_id "
        f"JOIN {INTERNAL}.items i ON i.id = p.item_id AND i.dataset_id = p.dataset_id "
        f"WHERE {_readable('p.dataset_id')}"
    )


def _files_key(scored: Sequence[ScoreVersion]) -> tuple:
    return tuple((v.group, v.dataset_id, v.modality, v.version) for v in scored)


def _score_select(versions: Sequence[ScoreVersion], current: dict[str, float]) -> str:
    """Rows of the files, with decision and threshold at today's thresholds where they moved.

    A session that reads every dataset reads all the files in one scan, as before sessions
    were restricted; one that reads some reads each of its datasets' files, and never opens
    the others' (the conditions fold to constants, and the branches that are false go).
    """
    files: dict[int, list[str]] = {}
    for v in versions:
        files.setdefault(v.dataset_id, []).extend(sql_string(str(p.resolve())) for p in v.files)

    def rows(paths: Iterable[str], condition: str) -> str:
        return (
            "SELECT item_id, tag, score, decision, threshold, version "
            f"FROM read_parquet([{', '.join(paths)}]) WHERE {condition}"
        )

    if len(files) == 1:
        ((dataset_id, paths),) = files.items()
        source = rows(paths, _readable(str(int(dataset_id))))
    else:
        every = rows((p for paths in files.values() for p in paths), f"getvariable('{READ_ALL}')")
        each = (
            rows(
                paths,
                f"NOT coalesce(getvariable('{READ_ALL}'), false) AND "
                f"list_contains(getvariable('{READ_DATASETS}'), {int(dataset_id)})",
            )
            for dataset_id, paths in sorted(files.items())
        )
        source = " UNION ALL ".join([every, *each])
    moved = {
        tag: t
        for tag, t in current.items()
        if any(np.float32(v.thresholds.get(tag, t)) != np.float32(t) for v in versions)
    }
    decision, threshold = "decision", "threshold"
    if moved:
        limits = {tag: f"CAST({t!r} AS FLOAT)" for tag, t in moved.items()}
        decisions = " ".join(f"WHEN {sql_string(t)} THEN score >= {x}" for t, x in limits.items())
        values = " ".join(f"WHEN {sql_string(t)} THEN {x}" for t, x in limits.items())
        decision = f"CASE tag {decisions} ELSE decision END"
        threshold = f"CASE tag {values} ELSE threshold END"
    return (
        f"SELECT item_id, tag, score, {decision} AS decision, {threshold} AS threshold, version "
        f"FROM ({source})"
    )


def _wide_view(slug: str, versions: Sequence[ScoreVersion], parts: Sequence[str]) -> WideView:
    """The ``tags_<slug>`` view of a group's versions over its score views ``parts``: on the
    wide twins where every version has them and no aggregate is among the parts."""
    columns = tag_columns(t for v in versions for t in v.tags)
    aggregates = any(p.rsplit("_", 1)[-1] not in _VIDEO_COLUMNS for p in parts)
    files = [v for v in versions if v.modality in _VIDEO_COLUMNS]  # those the parts read
    twins = () if aggregates or not all(v.wide for v in files) else tuple(files)
    return WideView(f"tags_{slug}", tuple(parts), columns, twins)


def tag_columns(tags: Iterable[str]) -> dict[str, str]:
    """The columns of a ``tags_<group>`` view: column name -> tag, in order; repeats of a column
    name get ``_2``, ``_3``... (the web app shows these, so it never derives them)."""
    columns: dict[str, str] = {}
    for tag in dict.fromkeys(tags):
        col, n = tag_column(tag), 1
        while (col if n == 1 else f"{col}_{n}") in columns:
            n += 1
        columns[col if n == 1 else f"{col}_{n}"] = tag
    return columns


@dataclass(frozen=True, slots=True)
class WideView:
    """A ``tags_<group>`` view (``name``) and its columns (column -> tag).

    Where every version of the group has wide twins (:attr:`ScoreVersion.wide_files`) and no
    shot or video aggregates, the view reads the twins as they are (``twins``): a filter on a
    tag reads that tag's column, with no ``GROUP BY``. Otherwise it pivots the long rows of the
    group's score views (``parts``).
    """

    name: str
    parts: tuple[str, ...]
    columns: dict[str, str]
    twins: tuple[ScoreVersion, ...] = ()

    def definition(self) -> str:
        """The view's query: every column."""
        if not self.twins:
            return self._pivot(list(self.columns))
        return " UNION ALL ".join(self._twin_select(v) for v in self.twins)

    def select(self, columns: Iterable[str], where: str = "") -> str:
        """The rows of ``columns`` only (their tags' rows, or columns, alone are read);
        ``where`` (on ``item_id``) filters them first."""
        names = list(columns)
        if self.twins:
            cols = "".join(f", {sql_ident(c)}" for c in names)
            condition = f" WHERE {where}" if where else ""
            return f"SELECT item_id{cols} FROM main.{self.name}{condition}"
        if names:
            tags = ", ".join(sql_string(self.columns[c]) for c in names)
            where = f"tag IN ({tags})" + (f" AND {where}" if where else "")
        return self._pivot(names, where)

    def _pivot(self, names: list[str], where: str = "") -> str:
        source = " UNION ALL ".join(f"SELECT item_id, tag, score FROM main.{p}" for p in self.parts)
        pivot = "".join(
            f", max(score) FILTER (WHERE tag = {sql_string(self.columns[c])}) AS {sql_ident(c)}"
            for c in names
        )
        condition = f" WHERE {where}" if where else ""
        return f"SELECT item_id{pivot} FROM ({source}){condition} GROUP BY item_id"

    def _twin_select(self, version: ScoreVersion) -> str:
        """One version's twins (a session that may not read its dataset never opens them)."""
        cols = "".join(
            f", {sql_ident(tag)} AS {sql_ident(c)}"
            if tag in version.tags
            else f", CAST(NULL AS FLOAT) AS {sql_ident(c)}"
            for c, tag in self.columns.items()
        )
        files = ", ".join(sql_string(str(p.resolve())) for p in version.wide_files)
        readable = _readable(str(int(version.dataset_id)))
        return f"SELECT item_id{cols} FROM read_parquet([{files}]) WHERE {readable}"


@dataclass(slots=True)
class _CopyFacts:
    """What the sessions of one state of the catalog's copy learn once (a scan of 10M rows a
    grid page need not repeat): each dataset's id range (min, max, count), and the (dataset,
    ``tags_<group>``) pairs some of whose items have no score row."""

    ranges: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    partly_scored: set[tuple[int, str]] = field(default_factory=set)


class _Rows(NamedTuple):
    """The ``FROM`` of a grid filter's query, the filter, the ``ORDER BY`` and the id's
    expression; ``expect``: how many rows the whole answer has (``key``: which score rows)
    where score rows are read alone for every item."""

    sql: str
    compiled: Filter | None
    order: str
    ident: str
    expect: int | None = None
    key: tuple[int, str] | None = None


@dataclass(frozen=True, slots=True)
class _Scope:
    """What a grid filter over one dataset reads: the dataset's ids (``lo`` to ``hi``, ``n`` of
    them), the compiled filter, its ``ORDER BY`` expression, and the columns of each
    ``tags_<group>`` view the filter and the order use."""

    dataset_id: int
    lo: int
    hi: int
    n: int
    compiled: Filter | None
    order: str
    used: dict[str, set[str]]

    @property
    def ids(self) -> str:
        """Score rows of the dataset's ids only: other datasets' files and row groups are
        skipped."""
        return f"item_id BETWEEN {self.lo} AND {self.hi}"

    def joined(self, wide: dict[str, WideView]) -> str:
        """The dataset's own rows joined with the tag scores used; whatever the filter says,
        no row of another dataset is there to match."""
        joins = "".join(
            f" LEFT JOIN ({wide[v].select(sorted(cols), self.ids)}) AS {v}"
            f" ON {v}.item_id = items.id"
            for v, cols in sorted(self.used.items())
        )
        own = f"SELECT * FROM main.items WHERE dataset_id = {int(self.dataset_id)}"
        return f"({own}) AS items{joins}"

    def scores_view(self) -> str | None:
        """The ``tags_<group>`` view whose score rows alone could answer the filter (no join
        with 10M items): the filter and the order read its columns and nothing else, and the
        dataset's ids fill ``lo`` to ``hi``, so a score row there is one of its items'. The
        caller still checks that the filter is not true for an item without scores (which has
        no score row to match)."""
        if self.compiled is None or self.n != self.hi - self.lo + 1:
            return None
        view = self.compiled.reads_only()
        if view is None or set(self.used) != {view}:
            return None
        return view if self.order == "items.id" or self.order.startswith(f"{view}.") else None

    def sorted_view(self) -> str | None:
        """With no filter, the ``tags_<group>`` view the order reads, whose score rows alone are
        the answer when every item of the dataset has one (all in ``lo`` to ``hi``, which its
        ids fill); the caller checks that there are as many rows as items."""
        if self.compiled is not None or self.n != self.hi - self.lo + 1 or len(self.used) != 1:
            return None
        (view,) = self.used
        return view if self.order.startswith(f"{view}.") else None

    def unscored(self, view: str) -> str:
        """One row as an item without scores reads in ``view``: every column used NULL."""
        nulls = "".join(f", CAST(NULL AS FLOAT) AS {sql_ident(c)}" for c in sorted(self.used[view]))
        return f"(SELECT CAST(NULL AS BIGINT) AS item_id{nulls}) AS {view}"


class QuerySession:
    """One read-only DuckDB connection of a :class:`SqlEngine`; use as a context manager."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        tables: frozenset[str],
        wide: dict[str, WideView],
        limits: Limits,
        memory_bytes: int,
        hidden: str,
        datasets: frozenset[int] | None = None,
        facts: _CopyFacts | None = None,
    ) -> None:
        self._con = con
        self._facts = _CopyFacts() if facts is None else facts  # shared by the state's sessions
        self.datasets = datasets  # the ids of those it may read; None: every one
        self._hidden = hidden  # the score folder, which EXPLAIN ANALYZE would name
        self.table_names = tables
        self._wide = wide
        self.limits = limits
        self._memory_bytes = memory_bytes

    def __enter__(self) -> QuerySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    def execute(
        self,
        sql: str,
        *,
        max_rows: int | None = None,
        timeout_s: float | None = None,
        max_bytes: int | None = None,
        max_columns: int | None = None,
    ) -> QueryResult:
        """Run one read-only statement; at most ``max_rows`` rows come back.

        Limits not given are the session's (see :class:`Limits`).

        Raises
        ------
        SqlRefusedError
            The sandbox forbids the statement (writes, files, network, settings, ...).
        SqlTimeoutError
            It ran past ``timeout_s`` seconds.
        SqlError
            It failed otherwise (syntax, unknown table or column), or reached the memory,
            result size or column limit.
        """
        limits = self._limits(max_rows, timeout_s, max_bytes, max_columns, field="sql")
        statement = check_statement(
            self._con, sql, self.table_names, max_columns=limits.max_columns
        )
        result = self._run(statement, limits, field="sql")
        if statement[:7].upper() != "EXPLAIN":
            return result
        table = pa.table(
            [self._plan(c) if pa.types.is_string(c.type) else c for c in result.table.columns],
            names=result.table.column_names,
        )
        return replace(result, table=table)

    def _plan(self, column: pa.ChunkedArray) -> pa.ChunkedArray:
        """A column of an EXPLAIN's result without the score folder; for a session that reads
        only some datasets, without the estimates and row group totals too (they count the
        rows of every dataset), in every format (text, JSON, YAML, HTML, Graphviz)."""
        column = pc.replace_substring(column, self._hidden, "<scores>")
        if self.datasets is None:
            return column
        for pattern, replacement in _PLAN_COUNTS:
            column = pc.replace_substring_regex(column, pattern, replacement)
        return column

    def _limits(
        self,
        max_rows: int | None,
        timeout_s: float | None,
        max_bytes: int | None,
        max_columns: int | None,
        field: str,
    ) -> Limits:
        given = {"max_rows": max_rows, "timeout_s": timeout_s, "max_bytes": max_bytes,
                 "max_columns": max_columns}  # fmt: skip
        for name, value in given.items():
            if value is not None and (value < 0 or (value == 0 and name != "max_rows")):
                bound = ">= 0" if name == "max_rows" else "> 0"  # no rows is a valid ask
                raise SqlError(f"{name} must be {bound}, got {value}", field=field)
        return replace(self.limits, **{k: v for k, v in given.items() if v is not None})

    def _run(self, statement: str, limits: Limits, *, field: str) -> QueryResult:
        watchdog = _Watchdog(self._con, limits.timeout_s, self._memory_bytes)
        try:
            with watchdog:
                rel = self._con.sql(statement)
                if rel is None:
                    raise SqlError("the statement returned no result", field=field)
                if len(rel.columns) > limits.max_columns:
                    raise column_limit(len(rel.columns), limits.max_columns, field)
                types = [str(t) for t in rel.types]
                table = _fetch(rel.limit(limits.max_rows + 1), limits, field)
        except (duckdb.InterruptException, OSError, pa.ArrowException) as exc:
            if watchdog.reason == "time":
                raise limits.time_error(field) from exc
            if watchdog.reason == "memory" or "Out of Memory" in str(exc):
                raise limits.memory_error(field) from exc
            raise SqlError(f"query failed: {_message(exc)}", field=field) from exc
        except duckdb.OutOfMemoryException as exc:
            raise limits.memory_error(field) from exc
        except duckdb.PermissionException as exc:
            raise SqlRefusedError(f"refused by the sandbox: {_message(exc)}", field=field) from exc
        except duckdb.Error as exc:
            if watchdog.reason == "memory":
                raise limits.memory_error(field) from exc
            raise SqlError(f"query failed: {_message(exc)}", field=field) from exc
        truncated = table.num_rows > limits.max_rows
        if truncated:
            table = table.slice(0, limits.max_rows)
        return QueryResult(
            columns=list(table.column_names),
            types=types,
            table=table,
            truncated=truncated,
            elapsed_ms=(time.perf_counter() - watchdog.start) * 1000,
            limits=limits,
            deadline=watchdog.start + limits.timeout_s,
        )

    def tables(self) -> dict[str, list[tuple[str, str]]]:
        """Every table of the session and its (column, type) pairs."""
        rows = self._con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = 'main' ORDER BY table_name, column_index"
        ).fetchall()
        out: dict[str, list[tuple[str, str]]] = {}
        for table, column, kind in rows:
            if table in self.table_names:
                out.setdefault(table, []).append((column, kind))
        return out

    def filter_items(
        self,
        dataset: str,
        where: str | None = None,
        *,
        order_by: str = "id",
        descending: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> FilteredItems:
        """Ids of the dataset's items matching a grid filter (F-42), a page at a time.

        Parameters
        ----------
        dataset : str
            The dataset's name.
        where : str, optional
            A SQL boolean expression over the ``items`` columns, tag scores as
            ``tags_<group>.<tag>`` (see :func:`score_column`) and subqueries over the session's
            tables, e.g. ``width > 500 AND tags_animals.dog > 0.8 AND has_label(id, 'cat')``.
        order_by : str, default "id"
            An ``items`` column, or a tag score ``tags_<group>.<tag>`` (missing scores last).
        """
        if limit < 0 or offset < 0:
            raise SqlError("limit and offset must be >= 0", field="where")
        rows = self._filtered_rows(dataset, where, order_by)
        found = self._page(rows, descending, limit, offset)
        if rows.expect is not None and found.total != rows.expect:
            # Some item has no score row: only the join with the items answers.
            self._facts.partly_scored.add(rows.key)
            found = self._page(
                self._filtered_rows(dataset, where, order_by), descending, limit, offset
            )
        return found

    def _page(self, rows: _Rows, descending: bool, limit: int, offset: int) -> FilteredItems:
        if offset == 0 and 0 < limit <= FIRST_MATCHES_MAX:
            return self._first_matches(rows, descending, limit)
        ident, order = rows.ident, rows.order

        def page(condition: str) -> str:
            return (
                f"SELECT {ident} AS id, count(*) OVER () AS n FROM {rows.sql} WHERE {condition} "
                f"ORDER BY {order} {'DESC' if descending else 'ASC'} NULLS LAST, {ident} "
                f"LIMIT {int(limit)} OFFSET {int(offset)}"
            )

        def count(condition: str) -> str:
            return f"SELECT count(*) FROM {rows.sql} WHERE {condition}"

        checked = check_filtered(self._con, page, rows.compiled, self.table_names)
        result = self._run(checked, replace(self.limits, max_rows=limit), field="where")
        ids = result.table.column("id").to_pylist()
        if ids:
            total = result.table.column("n")[0].as_py()
        elif offset == 0:
            total = 0
        else:  # a page past the end
            checked = check_filtered(self._con, count, rows.compiled, self.table_names)
            counted = self._run(checked, replace(self.limits, max_rows=1), field="where")
            total = int(counted.rows[0][0])
        return FilteredItems(ids=ids, total=total)

    def _first_matches(self, rows: _Rows, descending: bool, limit: int) -> FilteredItems:
        """The first ``limit`` matches and how many there are, in one pass that keeps the best
        ``limit`` (``arg_min``/``arg_max`` of the sort key) instead of sorting every match.
        The key puts missing values last and breaks ties by id, as ``filter_items`` orders."""
        order, ident = rows.order, rows.ident
        # Every row of a dataset by a tag (no filter): two passes beat one keeping a (score,
        # id) key over 10M rows (10M, first page: 178 against 216 ms); over the 20% a filter
        # leaves, one pass is cheaper (130 against 158 ms).
        if order != ident and rows.key is not None and rows.compiled is None:
            found = self._first_by_score(rows, descending, limit)
            if found is not None:
                return found
        if order == ident:  # by id alone: its smallest (largest), no sort key to build
            best = f"{'max' if descending else 'min'}({ident}, {int(limit)})"
        elif descending:
            key = f"{{n: {order} IS NOT NULL, v: {order}, i: -{ident}}}"
            best = f"arg_max({ident}, {key}, {int(limit)})"
        else:
            key = f"{{n: {order} IS NULL, v: {order}, i: {ident}}}"
            best = f"arg_min({ident}, {key}, {int(limit)})"

        def first(condition: str) -> str:
            return f"SELECT count(*) AS n, {best} AS ids FROM {rows.sql} WHERE {condition}"

        checked = check_filtered(self._con, first, rows.compiled, self.table_names)
        result = self._run(checked, replace(self.limits, max_rows=1), field="where")
        total, ids = result.rows[0]
        return FilteredItems(ids=list(ids or []), total=int(total))

    def _first_by_score(self, rows: _Rows, descending: bool, limit: int) -> FilteredItems | None:
        """The first page of score rows read alone (``rows.key``), by a tag: the best
        ``limit`` scores and how many match in one pass, then the rows scoring at least the
        last of them, sorted (a few more than ``limit`` where scores tie). ``None`` where fewer
        than ``limit`` matches have a score (the rest come last by id: the caller's one pass
        orders them)."""
        order, ident, view = rows.order, rows.ident, rows.key[1] if rows.key else ""
        top = f"{'max' if descending else 'min'}({order}, {int(limit)})"

        def first(condition: str) -> str:
            return f"SELECT count(*) AS n, {top} AS best FROM {rows.sql} WHERE {condition}"

        checked = check_filtered(self._con, first, rows.compiled, self.table_names)
        total, best = self._run(checked, replace(self.limits, max_rows=1), field="where").rows[0]
        if len(best or ()) < limit or not math.isfinite(bound := float(best[-1])):
            return None
        within = (
            f"(SELECT * FROM {rows.sql} WHERE {order} {'>=' if descending else '<='} "
            f"{bound!r}) AS {view}"
        )

        def page(condition: str) -> str:
            return (
                f"SELECT {ident} AS id FROM {within} WHERE {condition} "
                f"ORDER BY {order} {'DESC' if descending else 'ASC'}, {ident} LIMIT {int(limit)}"
            )

        checked = check_filtered(self._con, page, rows.compiled, self.table_names)
        result = self._run(checked, replace(self.limits, max_rows=limit), field="where")
        return FilteredItems(ids=result.table.column("id").to_pylist(), total=int(total))

    def label_counts(self, dataset: str, where: str) -> dict[str, int]:
        """Each label name and on how many of the dataset's items matching the grid filter
        ``where`` it appears (the grid's facets), in one query over the same checked filter
        as :meth:`filter_items`; names no matching item carries are left out."""
        rows, compiled, _ = self._dataset_rows(dataset, where)
        matching = check_filtered(
            self._con,
            lambda condition: f"SELECT items.id FROM {rows} WHERE {condition}",
            compiled,
            self.table_names,
        )
        # The checked query, whole, as a CTE: it sees no column of the labels (a subquery
        # would: the filter's names could bind to them), so the filter binds as in filter_items.
        checked = (
            f"WITH matching_ AS ({matching}) SELECT l.name, count(DISTINCT l.item_id) "
            "FROM main.labels l JOIN matching_ m ON m.id = l.item_id "
            "GROUP BY l.name ORDER BY l.name"
        )
        result = self._run(checked, replace(self.limits, max_rows=1_000_000), field="where")
        return {str(name): int(n) for name, n in result.rows}

    def _dataset_rows(
        self, dataset: str, where: str | None, order_by: str = "id"
    ) -> tuple[str, Filter | None, str]:
        """The dataset's own rows joined with the tag scores the filter and the order use (the
        ``FROM`` of a filtered query), the compiled filter and the ``ORDER BY`` expression."""
        scope = self._scope(dataset, where, order_by)
        return scope.joined(self._wide), scope.compiled, scope.order

    def _filtered_rows(self, dataset: str, where: str | None, order_by: str) -> _Rows:
        """What a grid filter reads (as :meth:`_dataset_rows`), and the expression of an item's
        id there. Where it gives the same matches, one group's score rows are read alone,
        without joining the dataset's items (10M rows): for a filter that reads that group's
        scores only (see :meth:`_Scope.scores_view`), or for no filter and an order by one of
        its tags, when every item has a score row (``expect``: as many rows as items; the
        caller checks, and reads the join where not)."""
        scope = self._scope(dataset, where, order_by)
        view, expect, partly_scored = scope.scores_view(), None, self._facts.partly_scored
        if view is not None:  # is the filter true for an item without scores?
            probe = check_filtered(
                self._con,
                lambda condition: f"SELECT count(*) FROM {scope.unscored(view)} WHERE {condition}",
                scope.compiled,
                self.table_names,
            )
            if self._run(probe, replace(self.limits, max_rows=1), field="where").rows[0][0]:
                view = None
        elif (by := scope.sorted_view()) and (scope.dataset_id, by) not in partly_scored:
            view, expect = by, scope.n
        if view is None:
            rows = scope.joined(self._wide)
            return _Rows(rows, scope.compiled, scope.order, "items.id")
        rows = f"({self._wide[view].select(sorted(scope.used[view]), scope.ids)}) AS {view}"
        order = f"{view}.item_id" if scope.order == "items.id" else scope.order
        ident, key = f"{view}.item_id", (scope.dataset_id, view)
        return _Rows(rows, scope.compiled, order, ident, expect, key)

    def _scope(self, dataset: str, where: str | None, order_by: str) -> _Scope:
        found = self._con.execute(
            "SELECT id FROM main.datasets WHERE name = ?",  # those the session may read
            [dataset],
        ).fetchall()
        if not found:
            raise NotFoundError(f"no dataset named {dataset!r}")
        dataset_id = int(found[0][0])
        ranges = self._facts.ranges
        if dataset_id not in ranges:
            # A plain scan with a constant: as correlated subqueries, the bounds cost 10x more.
            ranges[dataset_id] = self._con.execute(
                f"SELECT min(id), max(id), count(*) FROM {INTERNAL}.items WHERE dataset_id = ?",
                [dataset_id],
            ).fetchone()
        lo, hi, n = ranges[dataset_id]
        used: dict[str, set[str]] = {}  # tags_<group> -> its columns the filter uses
        compiled = None
        if where and where.strip():
            compiled = compile_filter(self._con, where, self.table_names)
            for view, column in compiled.columns:
                if view.startswith("tags_"):
                    self._wide_column(view, column, used, field="where")
        order = self._order_by(order_by, used)
        return _Scope(dataset_id, lo or 0, hi or 0, int(n), compiled, order, used)

    def _wide_column(self, view: str, column: str, used: dict[str, set[str]], field: str) -> str:
        wide = self._wide.get(view)
        if wide is None:
            scored = ", ".join(sorted(self._wide)) or "none yet"
            raise SqlError(
                f"no scores for {view!r} (no group of that name was scored); scored: {scored}",
                field=field,
            )
        if column != "item_id" and column not in wide.columns:
            raise SqlError(
                f"{view} has no column {column!r}; its tags: {', '.join(wide.columns)}",
                field=field,
            )
        used.setdefault(view, set()).update({column} - {"item_id"})
        return f"{view}.{sql_ident(column)}"

    def _order_by(self, order_by: str, used: dict[str, set[str]]) -> str:
        name = order_by.strip().lower()
        if name in SORTABLE:
            return f"items.{name}"
        view, _, column = (p.strip() for p in name.partition("."))
        if view.startswith("tags_") and column and column != "item_id":
            return self._wide_column(view, column, used, field="order_by")
        raise SqlError(
            f"cannot sort by {order_by!r}; use one of {', '.join(SORTABLE)} or a tag score "
            "such as tags_<group>.<tag>",
            field="order_by",
        )


def _fetch(rel: duckdb.DuckDBPyRelation, limits: Limits, field: str) -> pa.Table:
    """The rows of ``rel`` chunk by chunk, stopped past ``limits.max_bytes``."""
    reader = rel.to_arrow_reader(_BATCH_ROWS)
    try:
        batches, size = [], 0
        for batch in reader:
            size += batch.nbytes
            if size > limits.max_bytes:
                raise limits.bytes_error(field)
            batches.append(batch)
        return pa.Table.from_batches(batches, schema=reader.schema)
    finally:
        reader.close()


def _message(exc: Exception) -> str:
    return " ".join(str(exc).split())


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_COLUMNS",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_TIMEOUT_S",
    "FIRST_MATCHES_MAX",
    "MEMORY_LIMIT_ENV",
    "FilteredItems",
    "Limits",
    "QueryResult",
    "QuerySession",
    "SqlEngine",
    "parse_size",
    "score_column",
    "sql_ident",
    "sql_string",
    "tag_column",
    "tag_columns",
]
