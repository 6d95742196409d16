"""SQL use cases (SPEC F-40, F-41): read-only queries over items, labels and tag scores.

Tables: ``datasets``, ``items`` (with ``video_id``, ``shot_id``, ``keyframe_time_ms``,
``start_ms``, ``end_ms`` and metadata fields as columns), ``labels``, ``classes``, ``questions``,
``collections``, ``collection_items``, a ``rs_<name>`` per result set, and for every scored tag
group ``dt_<group>_visual`` and ``_transcript`` (item_id, tag, score, decision, threshold,
version, the video and times), ``dt_<group>_shot`` and ``_video`` (aggregated from the visual
scores) and ``tags_<group>`` (one score column per tag); ``store.sql`` has the columns. Queries run
in a sandbox: one read-only statement, no files, no network, and limits on time, rows, result
bytes, columns and memory (the engine's, from ``TAGSCOPE_SQL_MEMORY_LIMIT``); every refusal is a
:class:`~tagscope.domain.SqlRefusedError` saying why, every limit reached an
:class:`~tagscope.domain.SqlError` saying how to raise it.

A caller sees only the datasets it may read (F-90): :func:`sql_session` gives the engine's
session the policy's ``readable_dataset_ids``, and its views show no row of another dataset.

Examples
--------
>>> run_sql(ws, "SELECT i.path, d.score FROM dt_animals_visual d JOIN items i "
...             "ON i.id = d.item_id WHERE d.tag = 'dog' AND d.decision")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tagscope.domain import ValidationError
from tagscope.service import policy
from tagscope.service.workspace import Workspace
from tagscope.store.sql import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_ROWS,
    DEFAULT_TIMEOUT_S,
    QuerySession,
)

MAX_ROWS = 100_000
MAX_TIMEOUT_S = 300.0
MAX_BYTES = 2**30
MAX_COLUMNS = 10_000


@dataclass(frozen=True, slots=True)
class SqlResult:
    """Rows of a query (at most the row limit; ``truncated`` when there were more)."""

    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by column."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def sql_session(ws: Workspace) -> QuerySession:
    """A session of the workspace's SQL engine over the datasets the caller may read (every one
    for the owner): what every caller's query, grid filters included, runs in."""
    identity = ws.identity
    return ws.sql_engine().session(lambda ids: policy.readable_dataset_ids(identity, ids))


def run_sql(
    ws: Workspace,
    sql: str,
    *,
    limit: int = DEFAULT_MAX_ROWS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_columns: int = DEFAULT_MAX_COLUMNS,
) -> SqlResult:
    """Run one read-only SQL statement over the workspace's tables, as the caller sees them
    (only the datasets it may read).

    Parameters
    ----------
    sql : str
        One ``SELECT`` (or ``WITH``, ``VALUES``, ``DESCRIBE``, ``SHOW``, ``EXPLAIN``...).
    limit : int, default 10_000
        Rows returned at most (1..100_000).
    timeout_s : float, default 10
        Seconds the query may run (at most 300).
    max_bytes : int, default 64 MiB
        Bytes of the result (as Arrow data) at most (up to 1 GiB).
    max_columns : int, default 1000
        Columns of the result, and of any select list in the query, at most (up to 10_000).

    Raises
    ------
    SqlRefusedError
        Writes, ``COPY``, ``ATTACH``, ``INSTALL``/``LOAD``, file or network functions, settings,
        several statements.
    SqlTimeoutError
        The time limit was reached.
    SqlError
        Syntax errors, unknown tables or columns; the result size, column or memory limit
        reached (the memory limit is the engine's: ``TAGSCOPE_SQL_MEMORY_LIMIT``, default 4GB).
    """
    if not sql or not sql.strip():
        raise ValidationError("give a SQL statement", field="sql")
    if not 1 <= limit <= MAX_ROWS:
        raise ValidationError(f"limit must be within 1..{MAX_ROWS}, got {limit}", field="limit")
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise ValidationError(
            f"timeout must be within (0, {MAX_TIMEOUT_S:g}] seconds, got {timeout_s}",
            field="timeout",
        )
    for name, value, most in (("max_bytes", max_bytes, MAX_BYTES),
                              ("max_columns", max_columns, MAX_COLUMNS)):  # fmt: skip
        if not 1 <= value <= most:
            raise ValidationError(f"{name} must be within 1..{most}, got {value}", field=name)
    with sql_session(ws) as session:
        result = session.execute(
            sql, max_rows=limit, timeout_s=timeout_s, max_bytes=max_bytes, max_columns=max_columns
        )
    return SqlResult(
        columns=list(result.columns),
        types=list(result.types),
        rows=[list(row) for row in result.python_rows()],  # within the time limit too
        truncated=result.truncated,
        elapsed_ms=result.elapsed_ms,
    )


def list_tables(ws: Workspace) -> dict[str, list[tuple[str, str]]]:
    """Every table a query of the caller can read, with its (column, type) pairs."""
    with sql_session(ws) as session:
        return session.tables()


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_COLUMNS",
    "MAX_BYTES",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "SqlResult",
    "list_tables",
    "run_sql",
    "sql_session",
]
