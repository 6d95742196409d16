"""The SQL engine (F-40 to F-42): read-only, sandboxed DuckDB sessions over the catalog and scores.

A session sees these views:

``datasets``  id, name, description
``items``     id, dataset_id, dataset (name), path, modality, width, height, format, size,
              content_hash, text, split, video_id, keyframe_time_ms, keyframe_index (NULL where
              absent), metadata (JSON), and one column per simple top-level metadata field
              (``series_name``, ``episode_name``, ...) whose name is an identifier
``labels``    item_id, kind, name, source, is_main, score
``dt_<group>_<modality>``  item_id, tag, score, decision, threshold, version: the latest score
              version of every dataset the group scored (modality ``visual``, ``transcript``,
              ``shot`` or ``video``, where such files exist)
``tags_<group>``  item_id and one score column per tag (``tags_animals.dog``,
              ``tags_animals.street_sign``): the wide form grid filters use (F-42)

and a macro ``has_label(item_id, name)``.

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
replacement scans off, and its configuration locked. Each query runs under a time limit (the
connection is interrupted from a timer thread) and returns at most ``max_rows`` rows.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from tagscope.domain import NotFoundError, SqlError, SqlRefusedError, SqlTimeoutError
from tagscope.domain.tags import group_slug
from tagscope.store.catalog import Catalog
from tagscope.store.scores import MODALITIES, ScoreTables, ScoreVersion
from tagscope.store.sql_catalog import INTERNAL, CatalogCopy
from tagscope.store.sql_guard import check_expression, check_statement, sql_ident, sql_string

DEFAULT_MAX_ROWS = 10_000
DEFAULT_TIMEOUT_S = 10.0
SORTABLE = ("id", "path", "size", "width", "height", "format", "split", "modality")


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

    @property
    def n_rows(self) -> int:
        return self.table.num_rows

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        """The rows as tuples of Python values."""
        return list(zip(*(c.to_pylist() for c in self.table.columns), strict=True))

    def to_arrow(self) -> pa.Table:
        return self.table


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
        DuckDB's memory limit, e.g. ``"4GB"`` (default: DuckDB's, 80% of the RAM).
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
        self._lock = threading.Lock()
        self._views_key: Any = None
        self._tables: frozenset[str] = frozenset()
        self._wide: dict[str, WideView] = {}
        self._con = self._connect(threads, memory_limit)
        self._copy = CatalogCopy(self._con, catalog, snapshot)

    def _connect(self, threads: int | None, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
        config: dict[str, Any] = {
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "allow_unsigned_extensions": False,
            "allow_persistent_secrets": False,
            "python_enable_replacements": False,
        }
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        con = duckdb.connect(":memory:", config=config)
        scores_dir = str(self.scores.root.resolve()).rstrip("/") + "/"
        con.execute(f"SET allowed_directories = [{sql_string(scores_dir)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con

    # -- sessions -------------------------------------------------------------------------
    def session(self) -> QuerySession:
        """A session over the catalog and scores as they are now (refreshed if they changed)."""
        with self._lock:
            self._refresh()
            return QuerySession(
                self._con.cursor(),
                tables=self._tables,
                wide=dict(self._wide),
                max_rows=self.max_rows,
                timeout_s=self.timeout_s,
            )

    def refresh(self, *, full: bool = False) -> None:
        """Bring the copy of the catalog up to date; ``full`` copies everything again."""
        with self._lock:
            if full:
                self._copy.reset()
            self._refresh()

    def close(self) -> None:
        self._con.close()

    def _refresh(self) -> None:
        state = self._copy.refresh()
        scored = [v for v in self.scores.scored() if v.dataset_id in state.dataset_ids]
        meta = tuple(self._copy.meta_columns.items())
        key = (meta, tuple(state.thresholds.items()), _files_key(scored))
        if key != self._views_key:
            self._create_views(scored, state.thresholds)
            self._views_key = key

    # -- views ----------------------------------------------------------------------------
    def _create_views(
        self, scored: Sequence[ScoreVersion], thresholds: dict[tuple[str, str], float]
    ) -> None:
        con = self._con
        meta = "".join(f", i.{sql_ident(k)}" for k in self._copy.meta_columns)
        con.execute(
            f"CREATE OR REPLACE VIEW main.datasets AS "
            f"SELECT id, name, description FROM {INTERNAL}.datasets"
        )
        con.execute(
            "CREATE OR REPLACE VIEW main.items AS SELECT i.id, i.dataset_id, d.name AS dataset, "
            "i.path, i.modality, i.width, i.height, i.format, i.size, i.content_hash, i.text, "
            f"i.split{meta}, i.metadata FROM {INTERNAL}.items i "
            f"JOIN {INTERNAL}.datasets d ON d.id = i.dataset_id"
        )
        con.execute(
            "CREATE OR REPLACE VIEW main.labels AS SELECT item_id, kind, name, source, is_main, "
            f"score FROM {INTERNAL}.labels"
        )
        con.execute(
            "CREATE OR REPLACE MACRO main.has_label(item, label_name) AS EXISTS "
            "(SELECT 1 FROM main.labels l WHERE l.item_id = item AND l.name = label_name)"
        )
        wanted = {"datasets", "items", "labels"}
        wide: dict[str, WideView] = {}
        for slug in sorted({v.group for v in scored}):
            versions = [v for v in scored if v.group == slug]
            current = {tag: t for (s, tag), t in thresholds.items() if s == slug}
            parts = []
            for modality in MODALITIES:
                of_modality = [v for v in versions if v.modality == modality]
                if of_modality:
                    name = f"dt_{slug}_{modality}"
                    select_rows = _score_select(of_modality, current)
                    con.execute(f"CREATE OR REPLACE VIEW main.{name} AS {select_rows}")
                    wanted.add(name)
                    parts.append(name)
            view = WideView(tuple(parts), _tag_columns(t for v in versions for t in v.tags))
            con.execute(f"CREATE OR REPLACE VIEW main.tags_{slug} AS {view.select()}")
            wanted.add(f"tags_{slug}")
            wide[f"tags_{slug}"] = view
        for (name,) in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal"
        ).fetchall():
            if name not in wanted:
                con.execute(f"DROP VIEW main.{sql_ident(name)}")
        self._tables = frozenset(wanted)
        self._wide = wide


def _files_key(scored: Sequence[ScoreVersion]) -> tuple:
    return tuple((v.group, v.dataset_id, v.modality, v.version) for v in scored)


def _score_select(versions: Sequence[ScoreVersion], current: dict[str, float]) -> str:
    """Rows of the files, with decision and threshold at today's thresholds where they moved."""
    files = ", ".join(sql_string(str(p.resolve())) for v in versions for p in v.files)
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
        f"FROM read_parquet([{files}])"
    )


def _tag_columns(tags: Iterable[str]) -> dict[str, str]:
    """Column name -> tag, in order; repeats of a column name get ``_2``, ``_3``..."""
    columns: dict[str, str] = {}
    for tag in dict.fromkeys(tags):
        col, n = tag_column(tag), 1
        while (col if n == 1 else f"{col}_{n}") in columns:
            n += 1
        columns[col if n == 1 else f"{col}_{n}"] = tag
    return columns


@dataclass(frozen=True, slots=True)
class WideView:
    """A ``tags_<group>`` view: the group's score views and its columns (column -> tag)."""

    parts: tuple[str, ...]
    columns: dict[str, str]

    def select(self, columns: Iterable[str] | None = None, where: str = "") -> str:
        """The pivot of ``columns`` (all by default); ``where`` filters the long rows first."""
        names = list(self.columns) if columns is None else list(columns)
        source = " UNION ALL ".join(f"SELECT item_id, tag, score FROM main.{p}" for p in self.parts)
        pivot = "".join(
            f", max(score) FILTER (WHERE tag = {sql_string(self.columns[c])}) AS {sql_ident(c)}"
            for c in names
        )
        if columns is not None and names:
            tags = ", ".join(sql_string(self.columns[c]) for c in names)
            where = f"tag IN ({tags})" + (f" AND {where}" if where else "")
        condition = f" WHERE {where}" if where else ""
        return f"SELECT item_id{pivot} FROM ({source}){condition} GROUP BY item_id"


class QuerySession:
    """One read-only DuckDB connection of a :class:`SqlEngine`; use as a context manager."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        tables: frozenset[str],
        wide: dict[str, WideView],
        max_rows: int,
        timeout_s: float,
    ) -> None:
        self._con = con
        self.table_names = tables
        self._wide = wide
        self.max_rows = max_rows
        self.timeout_s = timeout_s

    def __enter__(self) -> QuerySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    def execute(
        self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None
    ) -> QueryResult:
        """Run one read-only statement; at most ``max_rows`` rows come back.

        Raises
        ------
        SqlRefusedError
            The sandbox forbids the statement (writes, files, network, settings, ...).
        SqlTimeoutError
            It ran past ``timeout_s`` seconds.
        SqlError
            It failed otherwise (syntax, unknown table or column).
        """
        statement = check_statement(self._con, sql, self.table_names)
        return self._run(statement, max_rows=max_rows, timeout_s=timeout_s)

    def _run(
        self, statement: str, *, max_rows: int | None, timeout_s: float | None, field: str = "sql"
    ) -> QueryResult:
        limit = self.max_rows if max_rows is None else max_rows
        if limit < 0:
            raise SqlError(f"max_rows must be >= 0, got {limit}", field=field)
        seconds = self.timeout_s if timeout_s is None else timeout_s
        start = time.perf_counter()
        timer = threading.Timer(seconds, self._con.interrupt)
        timer.start()
        try:
            rel = self._con.sql(statement)
            if rel is None:
                raise SqlError("the statement returned no result", field=field)
            table = rel.limit(limit + 1).to_arrow_table()
            types = [str(t) for t in rel.types]
        except duckdb.InterruptException as exc:
            raise SqlTimeoutError(
                f"query stopped at the time limit ({seconds:g} s): filter or aggregate more, "
                "or add a LIMIT",
                field=field,
            ) from exc
        except duckdb.PermissionException as exc:
            raise SqlRefusedError(f"refused by the sandbox: {_message(exc)}", field=field) from exc
        except duckdb.Error as exc:
            raise SqlError(f"query failed: {_message(exc)}", field=field) from exc
        finally:
            timer.cancel()
        truncated = table.num_rows > limit
        if truncated:
            table = table.slice(0, limit)
        return QueryResult(
            columns=list(table.column_names),
            types=types,
            table=table,
            truncated=truncated,
            elapsed_ms=(time.perf_counter() - start) * 1000,
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
        found = self._con.execute(
            f"SELECT id, (SELECT min(id) FROM {INTERNAL}.items WHERE dataset_id = d.id), "
            f"(SELECT max(id) FROM {INTERNAL}.items WHERE dataset_id = d.id) "
            f"FROM {INTERNAL}.datasets d WHERE name = ?",
            [dataset],
        ).fetchall()
        if not found:
            raise NotFoundError(f"no dataset named {dataset!r}")
        dataset_id, lo, hi = found[0]
        used: dict[str, set[str]] = {}  # tags_<group> -> its columns the filter uses
        if where and where.strip():
            for view, column in check_expression(self._con, where, self.table_names):
                if view.startswith("tags_"):
                    self._wide_column(view, column, used, field="where")
        order = self._order_by(order_by, used)
        # Only the tags the filter uses, only the dataset's ids: row groups of other tags and
        # other datasets' files are skipped.
        ids = f"item_id BETWEEN {lo or 0} AND {hi or 0}"
        joins = "".join(
            f" LEFT JOIN ({self._wide[v].select(sorted(cols), ids)}) AS {v}"
            f" ON {v}.item_id = items.id"
            for v, cols in sorted(used.items())
        )
        condition = f"(\n{where}\n)" if where and where.strip() else "true"
        body = (
            f"FROM main.items AS items{joins} "
            f"WHERE items.dataset_id = {int(dataset_id)} AND {condition}"
        )
        page = (
            f"SELECT items.id, count(*) OVER () AS n {body} "
            f"ORDER BY {order} {'DESC' if descending else 'ASC'} NULLS LAST, items.id "
            f"LIMIT {int(limit)} OFFSET {int(offset)}"
        )
        # Checked whole as well: the expression cannot change the query around it.
        check_statement(self._con, page, self.table_names, field="where")
        result = self._run(page, max_rows=limit, timeout_s=None, field="where")
        ids = result.table.column("id").to_pylist()
        if ids:
            total = result.table.column("n")[0].as_py()
        elif offset == 0:
            total = 0
        else:  # a page past the end
            counted = self._run(
                f"SELECT count(*) {body}", max_rows=1, timeout_s=None, field="where"
            )
            total = int(counted.rows[0][0])
        return FilteredItems(ids=ids, total=total)

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


def _message(exc: Exception) -> str:
    return " ".join(str(exc).split())


__all__ = [
    "DEFAULT_MAX_ROWS",
    "DEFAULT_TIMEOUT_S",
    "FilteredItems",
    "QueryResult",
    "QuerySession",
    "SqlEngine",
    "score_column",
    "sql_ident",
    "sql_string",
    "tag_column",
]
