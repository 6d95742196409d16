"""The SDK's lazy, immutable views of a dataset (F-52).

Each verb returns a new :class:`View` with one more stage; nothing runs until a terminal
(:meth:`View.ids`, :meth:`View.to_arrow`, :meth:`View.df`, :meth:`View.count`,
:meth:`View.items`, :meth:`View.sql`). The stages compile to one checked DuckDB query
(``tagscope.store.query``), run as the grid's filters run.

Examples
--------
>>> ds = ts.open().dataset("coco")                                          # doctest: +SKIP
>>> view = ds.where("width > 500").where_label("dog").limit(100)            # doctest: +SKIP
>>> view.count(), view.ids()[:3]                                            # doctest: +SKIP
>>> ds.where_tag("pets", "dog", decided=True).sort_by_similarity(42, k=20)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from tagscope._lazy import deferred
from tagscope.domain import Item
from tagscope.domain.collections import Collection

if TYPE_CHECKING:
    from tagscope.service import views as _views
    from tagscope.service.workspace import Workspace as _Workspace
else:
    _views = deferred("tagscope.service.views")  # DuckDB loads with the first stage


@dataclass(frozen=True, slots=True)
class View:
    """A lazy, immutable view of dataset ``dataset``: a tuple of stages.

    Filters and sorts come before :meth:`limit` and :meth:`skip` (a filter after them is
    refused). Build views from a dataset (``ds.where(...)``), not directly.
    """

    workspace: _Workspace = field(repr=False, compare=False)
    dataset: str
    stages: tuple[Any, ...] = ()

    def _add(self, stage: Any) -> View:
        return replace(self, stages=_views.append_stage(self.stages, stage))

    # -- stages -----------------------------------------------------------------------------
    def where(self, expr: str) -> View:
        """Items matching a grid filter expression: ``items`` columns, labels
        (``has_label(id, 'dog')``) and tag scores (``tags_<group>.<tag> >= 0.8``)."""
        return self._add(_views.Where(expr))

    def where_label(self, name: str, *names: str, mode: Literal["any", "all"] = "any") -> View:
        """Items carrying the label ``name`` (any, or with ``mode="all"`` all, of several)."""
        return self._add(_views.WhereLabel((name, *names), mode))

    def where_tag(
        self,
        group: str,
        tag: str,
        *,
        above: float | None = None,
        below: float | None = None,
        decided: bool | None = None,
    ) -> View:
        """Items whose score of ``tag`` in ``group`` is ``>= above`` and/or ``< below``; or,
        with ``decided=True`` (``False``), which the tag decides positive (scored, negative) at
        its threshold now, as the grid shows."""
        return self._add(_views.WhereTag(group, tag, above, below, decided))

    def sort_by(self, column: str, *, descending: bool = False) -> View:
        """Order by ``id``, ``path``, ``size``, ``width``, ``height``, ``format``, ``split``,
        ``modality`` or a tag score ``tags_<group>.<tag>`` (missing values last); ties by id."""
        return self._add(_views.SortBy(column, descending))

    def sort_by_similarity(self, item_id: int, *, k: int = 50, space: str | None = None) -> View:
        """Only the ``k`` items of the dataset most similar to ``item_id`` (those
        ``ds.similar`` finds; the item itself is not one), most similar first; the view's
        filters keep some of them. ``space``: the dataset's semantic space by default."""
        return self._add(_views.SortBySimilarity(item_id, k, space))

    def limit(self, n: int) -> View:
        """At most the first ``n`` items."""
        return self._add(_views.Limit(n))

    def skip(self, n: int) -> View:
        """All but the first ``n`` items."""
        return self._add(_views.Skip(n))

    # -- terminals --------------------------------------------------------------------------
    def ids(self) -> list[int]:
        """The item ids, in the view's order."""
        return _views.view_ids(self.workspace, self.dataset, self.stages)

    def count(self) -> int:
        """How many items the view holds."""
        return _views.count_view(self.workspace, self.dataset, self.stages)

    def items(self) -> list[Item]:
        """The items, in the view's order."""
        return _views.view_items(self.workspace, self.dataset, self.stages)

    def to_arrow(self) -> Any:
        """A ``pyarrow.Table`` of the ``items`` columns (and ``similarity`` after
        :meth:`sort_by_similarity`), in the view's order."""
        return _views.view_table(self.workspace, self.dataset, self.stages)

    def df(self) -> Any:
        """:meth:`to_arrow` as a pandas DataFrame (needs pandas installed)."""
        if importlib.util.find_spec("pandas") is None:
            raise ImportError("View.df() needs pandas (pip install pandas); or use .to_arrow()")
        return self.to_arrow().to_pandas()

    def sql(self) -> str:
        """The SQL :meth:`to_arrow` runs (a similarity sort runs its search to write it)."""
        return _views.view_sql(self.workspace, self.dataset, self.stages)

    def save_collection(self, title: str, *, description: str = "") -> Collection:
        """Save the view's filters as the dynamic collection ``title``: it is re-evaluated
        whenever it is read (freeze it to keep today's items). A view that sorts, limits or
        ranks by similarity cannot be saved so: save ``ids()`` as a static collection instead
        (``ds.create_collection(title, item_ids=view.ids())``)."""
        return _views.save_collection(
            self.workspace, self.dataset, self.stages, title, description=description
        )

    def __repr__(self) -> str:
        stages = " | ".join(map(repr, self.stages)) or "all items"
        return f"View({self.dataset!r}: {stages})"


__all__ = ["View"]
