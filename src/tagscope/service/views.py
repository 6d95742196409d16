"""View use cases (F-52): run a view's stages as one checked SQL query over a dataset.

A view's filters are grid filters and run as the grid's do (the same compiled, checked
``WHERE`` over the dataset's own rows, the same SQL limits: see :mod:`tagscope.store.query`). A
similarity sort first asks :func:`tagscope.service.search.search_similar` for its ``k`` hits; the
query then keeps only them, most similar first.

Examples
--------
>>> stages = (Where("width > 500"), WhereLabel(("dog",)), Limit(10))
>>> view_ids(ws, "coco", stages)                                      # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tagscope.domain import Item, ValidationError
from tagscope.domain.collections import Collection
from tagscope.service import collections, defaults, policy, search
from tagscope.service.policy import Action
from tagscope.service.sql import sql_session
from tagscope.service.workspace import Workspace
from tagscope.store.query import (
    CompiledView,
    Limit,
    Ranked,
    Skip,
    SortBy,
    SortBySimilarity,
    Stage,
    Where,
    WhereLabel,
    WhereTag,
    append_stage,
    compile_view,
    filter_expression,
    run_compiled,
)

if TYPE_CHECKING:
    from tagscope.store.sql import QuerySession

MAX_ROWS = 1_000_000
"""Rows a view's query returns at most; a view with more is an error, never cut silently."""


def _resolve(ws: Workspace, dataset: str, stages: tuple[Stage, ...]) -> tuple[Stage, ...]:
    """``stages`` with each similarity sort replaced by its search's hits (a ``Ranked``)."""
    return tuple(_ranked(ws, dataset, s) if isinstance(s, SortBySimilarity) else s for s in stages)


def _ranked(ws: Workspace, dataset: str, stage: SortBySimilarity) -> Ranked:
    space = stage.space
    if space is None:  # as the item page's neighbours: a semantic space before phash
        space = defaults.default_space(ws.catalog.list_spaces(ws.dataset(dataset).id))
        if space is None:
            raise ValidationError(
                f"dataset {dataset!r} has no embedding space to sort by similarity in; "
                "run `tagscope embed` first",
                field="space",
            )
    hits = search.search_similar(ws, dataset, item_id=stage.item_id, space=space, k=stage.k)
    return Ranked(tuple(h.item_id for h in hits), tuple(h.score for h in hits))


def _compiled(
    ws: Workspace, dataset: str, stages: tuple[Stage, ...], session: QuerySession
) -> CompiledView:
    """The view compiled, once the caller may read the dataset (every view's check)."""
    policy.dataset(ws, Action.READ, dataset)
    return compile_view(session, dataset, _resolve(ws, dataset, stages))


def view_sql(ws: Workspace, dataset: str, stages: tuple[Stage, ...]) -> str:
    """The SQL the view runs: its items' columns (and ``similarity`` after a similarity sort),
    in its order; it runs as is in the SQL console."""
    with sql_session(ws) as session:
        return _compiled(ws, dataset, stages, session).rows


def view_table(ws: Workspace, dataset: str, stages: tuple[Stage, ...]) -> Any:
    """The view's rows as an Arrow table: the ``items`` columns (and ``similarity``)."""
    with sql_session(ws) as session:
        compiled = _compiled(ws, dataset, stages, session)
        return run_compiled(session, compiled.rows, max_rows=MAX_ROWS)


def view_ids(ws: Workspace, dataset: str, stages: tuple[Stage, ...]) -> list[int]:
    """The ids of the view's items, in its order."""
    with sql_session(ws) as session:
        compiled = _compiled(ws, dataset, stages, session)
        return run_compiled(session, compiled.ids, max_rows=MAX_ROWS).column("id").to_pylist()


def count_view(ws: Workspace, dataset: str, stages: tuple[Stage, ...]) -> int:
    """How many items the view holds."""
    with sql_session(ws) as session:
        compiled = _compiled(ws, dataset, stages, session)
        return int(run_compiled(session, compiled.count, max_rows=1).column("n")[0].as_py())


def save_collection(
    ws: Workspace, dataset: str, stages: tuple[Stage, ...], title: str, *, description: str = ""
) -> Collection:
    """Save the view's filters as a dynamic collection ``title`` (re-evaluated when read; a
    change-set of the dataset's history, so undoable): ``collections.edit``."""
    policy.dataset(ws, Action.COLLECTIONS_EDIT, dataset)
    with sql_session(ws) as session:
        where = filter_expression(session, stages)
    return collections.create_collection(ws, dataset, title, where=where, description=description)


def view_items(ws: Workspace, dataset: str, stages: tuple[Stage, ...]) -> list[Item]:
    """The view's items, in its order."""
    ids = view_ids(ws, dataset, stages)
    by_id = ws.catalog.get_items(ids)
    return [by_id[i] for i in ids if i in by_id]


__all__ = [
    "MAX_ROWS",
    "Limit",
    "Skip",
    "SortBy",
    "SortBySimilarity",
    "Stage",
    "Where",
    "WhereLabel",
    "WhereTag",
    "append_stage",
    "count_view",
    "view_ids",
    "view_items",
    "view_sql",
    "view_table",
]
