"""SDK views compiled to SQL (F-52): a view's stages -> one checked DuckDB ``SELECT``.

A view is a tuple of stages (``Where``, ``WhereLabel``, ``WhereTag``, ``SortBy``, ``Ranked``,
``Limit``, ``Skip``). Its filters are grid filter expressions: each is compiled on its own
(:func:`~tagscope.store.sql_guard.compile_filter`), then they are joined with ``AND`` and the
query is built exactly as a grid filter's (:meth:`~tagscope.store.sql.QuerySession.filter_items`):
over the dataset's own rows, with the tag scores it uses joined in, its ``WHERE`` checked to be
exactly the filter (:func:`~tagscope.store.sql_guard.check_filtered`), run under the session's
limits. A ``Ranked`` stage (a similarity search the service ran) joins its ids as a ``VALUES``
list, which keeps only them and orders them by their rank.

Stages read in order, but only filters and sorts before ``limit``/``skip`` compile to one
``SELECT``, so :func:`append_stage` refuses a filter or a sort after them. The compiler uses
the session's own filter machinery (``_dataset_rows``, ``_run``): it is a part of the engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from tagscope.domain import SqlError, ValidationError
from tagscope.domain.tags import group_slug
from tagscope.store.sql_guard import (
    check_filtered,
    check_statement,
    compile_filter,
    sql_ident,
    sql_string,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from tagscope.store.sql import QuerySession, WideView


@dataclass(frozen=True, slots=True)
class Where:
    """Items matching a grid filter expression (``width > 500 AND tags_pets.dog >= 0.8``)."""

    expr: str

    def __post_init__(self) -> None:
        if not isinstance(self.expr, str) or not self.expr.strip():
            raise ValidationError("where() needs a filter expression", field="where")


@dataclass(frozen=True, slots=True)
class WhereLabel:
    """Items carrying any (``mode="any"``) or all (``"all"``) of the label ``names``."""

    names: tuple[str, ...]
    mode: Literal["any", "all"] = "any"

    def __post_init__(self) -> None:
        if not self.names or not all(isinstance(n, str) and n for n in self.names):
            raise ValidationError("where_label() needs one or more label names", field="label")
        if self.mode not in ("any", "all"):
            raise ValidationError(f"mode must be 'any' or 'all', got {self.mode!r}", field="mode")


@dataclass(frozen=True, slots=True)
class WhereTag:
    """Items whose score of ``group``/``tag`` is ``>= above`` and/or ``< below``, or which the
    tag decides positive (``decided=True``) or scored but not (``False``) at its threshold now."""

    group: str
    tag: str
    above: float | None = None
    below: float | None = None
    decided: bool | None = None

    def __post_init__(self) -> None:
        if not self.group or not self.tag:
            raise ValidationError("where_tag() needs a group and a tag", field="tag")
        bounds = [b for b in (self.above, self.below) if b is not None]
        if (self.decided is None) == (not bounds):
            raise ValidationError(
                f"where_tag({self.group!r}, {self.tag!r}): give above= and/or below=, or decided=",
                field="tag",
            )
        for bound in bounds:
            if isinstance(bound, bool) or not isinstance(bound, int | float):
                raise ValidationError(f"a score bound must be a number, got {bound!r}", field="tag")
            if not math.isfinite(bound):
                raise ValidationError(f"a score bound must be finite, got {bound}", field="tag")


@dataclass(frozen=True, slots=True)
class SortBy:
    """Order by an ``items`` column or a tag score ``tags_<group>.<tag>`` (missing ones last)."""

    column: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class SortBySimilarity:
    """The ``k`` items most similar to ``item_id`` in ``space``, most similar first; the service
    runs the search and hands the compiler a :class:`Ranked` in its place."""

    item_id: int
    k: int = 50
    space: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValidationError(f"k must be a positive integer, got {self.k!r}", field="k")


@dataclass(frozen=True, slots=True)
class Ranked:
    """Item ids best first, with their scores: only these, in this order."""

    item_ids: tuple[int, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Limit:
    n: int

    def __post_init__(self) -> None:
        _check_count(self.n, "limit")


@dataclass(frozen=True, slots=True)
class Skip:
    n: int

    def __post_init__(self) -> None:
        _check_count(self.n, "skip")


Stage = Where | WhereLabel | WhereTag | SortBy | SortBySimilarity | Ranked | Limit | Skip
_FILTERS = (Where, WhereLabel, WhereTag)
_SORTS = (SortBy, SortBySimilarity, Ranked)


def _check_count(n: object, name: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValidationError(f"{name}() needs an integer >= 0, got {n!r}", field=name)


def append_stage(stages: tuple[Stage, ...], stage: Stage) -> tuple[Stage, ...]:
    """``stages`` and then ``stage``; a filter or sort after ``limit``/``skip`` is refused
    (it would need a second query over the cut rows)."""
    if isinstance(stage, _FILTERS + _SORTS) and any(isinstance(s, Limit | Skip) for s in stages):
        raise ValidationError(
            "filters and sorts must come before limit() and skip() in a view",
            field="stages",
        )
    return (*stages, stage)


@dataclass(frozen=True, slots=True)
class CompiledView:
    """A view's checked queries: ``rows`` (the items' columns, and ``similarity`` after a
    similarity sort, in the view's order), ``ids`` (``id`` only) and ``count``."""

    rows: str
    ids: str
    count: str


def compile_view(session: QuerySession, dataset: str, stages: tuple[Stage, ...]) -> CompiledView:
    """Compile ``stages`` over ``dataset`` into checked SQL of ``session``.

    Raises
    ------
    NotFoundError
        Unknown dataset.
    SqlError, SqlRefusedError
        A filter that cannot run or is refused, an unknown tag group, tag or sort column.
    """
    con, tables = session._con, session.table_names
    exprs: list[str] = []
    ranked: list[Ranked] = []
    order: SortBy | Ranked | None = None
    offset, limit = 0, None
    for stage in stages:
        if isinstance(stage, Where):
            exprs.append(stage.expr)
        elif isinstance(stage, WhereLabel):
            exprs.append(_label_expr(stage))
        elif isinstance(stage, WhereTag):
            exprs.append(_tag_expr(session, stage))
        elif isinstance(stage, SortBy):
            order = stage
        elif isinstance(stage, Ranked):
            ranked.append(stage)
            order = stage
        elif isinstance(stage, Skip):
            offset += stage.n
            limit = None if limit is None else max(limit - stage.n, 0)
        elif isinstance(stage, Limit):
            limit = stage.n if limit is None else min(limit, stage.n)
        else:  # a SortBySimilarity: the service resolves it first
            raise TypeError(f"cannot compile the stage {stage!r}")
    # Each expression alone first: none can reach into another through its parentheses.
    where = " AND ".join(compile_filter(con, e, tables).sql for e in exprs) or None
    sort = order.column if isinstance(order, SortBy) else "id"
    rows, compiled, key = session._dataset_rows(dataset, where, sort)
    joins = "".join(_ranked_join(r, n) for n, r in enumerate(ranked, 1))
    if isinstance(order, Ranked):
        key, descending = f"similar_{len(ranked)}.rank_", False
    else:
        descending = bool(order and order.descending)
    similarity = f", similar_{len(ranked)}.similarity_ AS similarity" if ranked else ""
    window = (f" LIMIT {limit}" if limit is not None else "") + (
        f" OFFSET {offset}" if offset else ""
    )
    tail = f"ORDER BY {key} {'DESC' if descending else 'ASC'} NULLS LAST, items.id{window}"

    def build(columns: str) -> Callable[[str], str]:
        return lambda condition: f"SELECT {columns} FROM {rows}{joins} WHERE {condition} {tail}"

    checked = {
        name: check_filtered(con, build(cols), compiled, tables)
        for name, cols in (("rows", f"items.*{similarity}"), ("ids", "items.id"))
    }
    count = f"WITH view_ AS ({checked['ids']}) SELECT count(*) AS n FROM view_"
    check_statement(con, count, tables, field="where")
    return CompiledView(rows=checked["rows"], ids=checked["ids"], count=count)


def filter_expression(session: QuerySession, stages: tuple[Stage, ...]) -> str:
    """The view's filters as one grid filter expression (DuckDB's rendering of each, joined with
    AND), what a dynamic collection saves: it is re-evaluated, so a view that also sorts, limits
    or ranks by similarity has no such expression and is refused."""
    others = [s for s in stages if not isinstance(s, _FILTERS)]
    if others:
        raise ValidationError(
            f"only filters can be saved as a dynamic collection, not {others[0]!r}: save the "
            "filters, or save the view's ids (.ids()) as a static collection",
            field="view",
        )
    if not stages:
        raise ValidationError("the view has no filter to save (it holds every item)", field="view")
    con, tables = session._con, session.table_names
    exprs = [
        s.expr if isinstance(s, Where) else _label_expr(s) if isinstance(s, WhereLabel)
        else _tag_expr(session, s)
        for s in stages
    ]  # fmt: skip
    return " AND ".join(compile_filter(con, e, tables).sql for e in exprs)


def run_compiled(session: QuerySession, sql: str, *, max_rows: int) -> pa.Table:
    """The rows of a compiled view's query under the session's limits; more than ``max_rows``
    rows is an error (a view is never cut silently)."""
    limits = replace(session.limits, max_rows=max_rows)
    result = session._run(sql, limits, field="where")
    if result.truncated:
        raise SqlError(
            f"the view has more than {max_rows:,} rows (max_rows): add .limit(n), or raise it",
            field="where",
        )
    return result.table


def _label_expr(stage: WhereLabel) -> str:
    join = " OR " if stage.mode == "any" else " AND "
    return join.join(f"has_label(items.id, {sql_string(n)})" for n in stage.names)


def _wide_of(session: QuerySession, group: str) -> tuple[str, WideView]:
    view = f"tags_{group_slug(group)}"
    wide = session._wide.get(view)
    if wide is None:
        scored = ", ".join(sorted(session._wide)) or "none yet"
        raise SqlError(f"tag group {group!r} has no scores ({view}); scored: {scored}", field="tag")
    return view, wide


def _tag_expr(session: QuerySession, stage: WhereTag) -> str:
    view, wide = _wide_of(session, stage.group)
    columns = [c for c, t in wide.columns.items() if t == stage.tag]
    if not columns:
        raise SqlError(
            f"tag group {stage.group!r} has no scored tag {stage.tag!r}; its tags: "
            f"{', '.join(dict.fromkeys(wide.columns.values()))}",
            field="tag",
        )
    if stage.decided is not None:

        def scored(decision: str) -> str:
            tag = sql_string(stage.tag)
            return " UNION ALL ".join(
                f"SELECT item_id FROM main.{p} WHERE tag = {tag}{decision}" for p in wide.parts
            )

        if stage.decided:
            return f"items.id IN ({scored(' AND decision')})"
        return f"items.id IN ({scored('')}) AND items.id NOT IN ({scored(' AND decision')})"
    score = f"{view}.{sql_ident(columns[0])}"
    # In float32, as the score files are and as decisions compare (score >= threshold).
    bounds = []
    if stage.above is not None:
        bounds.append(f"{score} >= CAST({float(stage.above)!r} AS FLOAT)")
    if stage.below is not None:
        bounds.append(f"{score} < CAST({float(stage.below)!r} AS FLOAT)")
    return " AND ".join(bounds)


def _ranked_join(ranked: Ranked, n: int) -> str:
    rows = ", ".join(
        f"({int(i)}, {rank}, CAST({float(s)!r} AS DOUBLE))"
        for rank, (i, s) in enumerate(zip(ranked.item_ids, ranked.scores, strict=True), 1)
    )
    rows = rows or "(NULL::BIGINT, NULL::BIGINT, NULL::DOUBLE)"  # no hits: matches nothing
    alias = f"similar_{n}"
    return (
        f" JOIN (VALUES {rows}) AS {alias}(item_id_, rank_, similarity_)"
        f" ON {alias}.item_id_ = items.id"
    )


__all__ = [
    "CompiledView",
    "Limit",
    "Ranked",
    "Skip",
    "SortBy",
    "SortBySimilarity",
    "Stage",
    "Where",
    "WhereLabel",
    "WhereTag",
    "append_stage",
    "compile_view",
    "run_compiled",
]
