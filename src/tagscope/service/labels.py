"""Label edits: add, change, delete or replace an item's ground-truth labels, one at a time.

Each edit is one unit of work and one change-set of entity ``annotations`` (key: the dataset's
id; the record is every ground-truth label of the item), so ``history.undo`` puts back exactly
the labels there were. A label written here gets its ontology class (created when missing), its
author (the unit of work's actor), its time and its area. Geometry is checked as imports check
it (:mod:`tagscope.labels.geometry`): a box's size positive, a polygon's self-intersecting ring
repaired within 1% of its area or refused, a polyline's lines of 2 points or more, a mask's RLE
of the item's height x width. Setting ``is_main`` on a classification takes it off the item's
other ground-truth classifications (single-label). Editors change any item's labels, annotators
and reviewers those of the items of open manual label jobs given to them, and only admins those
of items whose review is complete (:func:`may_edit`, :mod:`tagscope.service.policy`).

Examples
--------
>>> edit = add_label(ws, "coco", 7, Label(LabelKind.BOX, "dog", geometry={"bbox": [1, 2, 3, 4]}))
>>> edit.change_set, [lab.area for lab in edit.labels]               # doctest: +SKIP
(12, [12.0])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from tagscope.domain import (
    Dataset,
    Item,
    Label,
    LabelKind,
    LabelSource,
    NotFoundError,
    ValidationError,
)
from tagscope.domain.changes import Change
from tagscope.domain.geometry import label_area
from tagscope.labels.geometry import (
    InvalidGeometry,
    check_box,
    check_polyline,
    check_rle,
    polygon_parts,
)
from tagscope.service import policy
from tagscope.service.ontology import check_answers
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.catalog import Catalog, label_key
from tagscope.store.label_jobs import LabelJobCatalog
from tagscope.store.label_states import LabelStates
from tagscope.store.ontology import OntologyCatalog
from tagscope.store.retry import retrying
from tagscope.store.uow import UnitOfWork

ENTITY = "annotations"
MAX_NAME = 256  # the labels table's name column
State = dict[str, Any]
# What a record says of a label beyond what makes it distinct (its key) and who made it.
_CONTENT = ("is_main", "score", "attributes", "class_id")


@dataclass(frozen=True, slots=True)
class LabelEdit:
    """An item's labels after an edit, and the change-set that recorded it (None: the edit
    changed nothing)."""

    item_id: int
    labels: list[Label]
    change_set: int | None


def item_labels(ws: Workspace, dataset: str, item_id: int) -> list[Label]:
    """Every label of the item (ground truth, predictions, prelabels), in id order.

    Raises
    ------
    NotFoundError
        No such dataset, or the dataset has no item ``item_id``.
    """
    ds = policy.dataset(ws, Action.READ, dataset)
    _item(ws.catalog.get_item, dataset, ds.id, item_id)
    return ws.catalog.item_labels(item_id)


@retrying
def add_label(ws: Workspace, dataset: str, item_id: int, label: Label) -> LabelEdit:
    """Add one ground-truth label to the item.

    Raises
    ------
    ValidationError
        A bad name, geometry (the reason named), source or answers; the item has this label
        already.
    NotFoundError
        No such dataset, or the dataset has no item ``item_id``.
    """

    def edit(uow: UnitOfWork, item: Item, labels: list[State]) -> list[State]:
        new = _record(uow, item, label)
        return [*_others_not_main(labels, new), new]

    params = {"kind": str(label.kind), "name": label.name}
    return _edit(ws, dataset, item_id, "add_label", params, edit)


@retrying
def update_label(
    ws: Workspace,
    dataset: str,
    label_id: int,
    *,
    name: str | None = None,
    geometry: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
    is_main: bool | None = None,
) -> LabelEdit:
    """Change a ground-truth label's name, geometry, attributes or main flag (None: as it
    is); it keeps its id and gets the actor as its author.

    Raises
    ------
    ValidationError
        A bad value (the reason named), or the label is not a ground-truth one.
    NotFoundError
        No such dataset, or the dataset has no label ``label_id``.
    """
    item_id, old = _label(ws, dataset, label_id)
    changed = {
        k: v
        for k, v in {
            "name": name,
            "geometry": geometry,
            "attributes": attributes,
            "is_main": is_main,
        }.items()
        if v is not None
    }

    def edit(uow: UnitOfWork, item: Item, labels: list[State]) -> list[State]:
        current = next((r for r in labels if r["id"] == label_id), None)
        if current is None:  # deleted since it was read
            raise NotFoundError(f"dataset {dataset!r} has no label {label_id}")
        new = {**_record(uow, item, replace(_as_label(current), **changed)), "id": label_id}
        return [new if r["id"] == label_id else r for r in _others_not_main(labels, new)]

    params = {"label": label_id, "kind": str(old.kind), "fields": sorted(changed)}
    return _edit(ws, dataset, item_id, "update_label", params, edit)


@retrying
def delete_label(ws: Workspace, dataset: str, label_id: int) -> LabelEdit:
    """Delete a ground-truth label.

    Raises
    ------
    ValidationError
        The label is not a ground-truth one.
    NotFoundError
        No such dataset, or the dataset has no label ``label_id``.
    """
    item_id, old = _label(ws, dataset, label_id)

    def edit(uow: UnitOfWork, item: Item, labels: list[State]) -> list[State]:
        return [r for r in labels if r["id"] != label_id]

    params = {"label": label_id, "kind": str(old.kind), "name": old.name}
    return _edit(ws, dataset, item_id, "delete_label", params, edit)


@retrying
def set_labels(ws: Workspace, dataset: str, item_id: int, labels: Sequence[Label]) -> LabelEdit:
    """Make the item's ground-truth labels ``labels`` (an empty list: none). A label the item
    has already (same kind, name and geometry) keeps its id, and its author and time when
    nothing else of it changes.

    Raises
    ------
    ValidationError
        A bad label (its position and the reason named), two labels alike, or more than one
        main classification.
    NotFoundError
        No such dataset, or the dataset has no item ``item_id``.
    """

    def edit(uow: UnitOfWork, item: Item, before: list[State]) -> list[State]:
        by_key = {r["key"]: r for r in before}
        out = []
        for k, label in enumerate(labels, start=1):
            try:
                new = _record(uow, item, label)
            except ValidationError as exc:
                raise ValidationError(f"label {k}: {exc}", field=exc.field) from None
            old = by_key.get(new["key"])
            if old is not None:
                same = all(old[f] == new[f] for f in _CONTENT)
                new = old if same else {**new, "id": old["id"]}
            out.append(new)
        mains = [r for r in out if r["kind"] == LabelKind.CLASSIFICATION and r["is_main"]]
        if len(mains) > 1:
            raise ValidationError(
                f"item {item.id}: {len(mains)} main classifications "
                f"({', '.join(repr(r['name']) for r in mains)}); at most one is main",
                field="is_main",
            )
        return out

    params = {"n_labels": len(labels)}
    return _edit(ws, dataset, item_id, "set_labels", params, edit)


def _edit(
    ws: Workspace,
    dataset: str,
    item_id: int,
    action: str,
    params: dict[str, Any],
    edit: Callable[[UnitOfWork, Item, list[State]], list[State]],
) -> LabelEdit:
    """Run ``edit`` (the item, its ground-truth label records -> the records it should have)
    in one unit of work, and write the change-set of what it changed."""
    ds = policy.dataset(ws, Action.LABELS_EDIT_ASSIGNED, dataset)
    with ws.uow() as uow:
        states = LabelStates(uow.catalog, None)
        states.lock(ds.id)
        item = _item(uow.catalog.get_item, dataset, ds.id, item_id)
        may_edit(ws, uow.catalog, ds, [item_id])
        before = states.states(ds.id, [item_id]).get(item_id)
        labels = edit(uow, item, list(before["labels"]) if before else [])
        _refuse_alike(item_id, labels)
        states.restore(ds.id, {item_id: {"labels": labels} if labels else None})
        after = states.states(ds.id, [item_id]).get(item_id)
        change_set = None
        if after != before:
            change = Change(item_id, ENTITY, str(ds.id), before, after)
            made = uow.changes.record(
                ds.id, uow.actor, action, [change], params=params, target={"item": item_id}
            )
            change_set = made.id
        return LabelEdit(item_id, uow.catalog.item_labels(item_id), change_set)


def may_edit(ws: Workspace, catalog: Catalog, ds: Dataset, item_ids: Sequence[int]) -> None:
    """Ask the policy whether the caller may change the labels of ``item_ids``: labels.edit,
    or labels.edit_assigned on items of label jobs given to it; labels.edit_complete for items
    whose review is complete. The item sets are read only when the caller's role needs them."""
    jobs = LabelJobCatalog(catalog)
    who = ws.identity
    policy.check_assigned(who, ds, item_ids, lambda: jobs.assigned_items(ds.id, who.name, item_ids))
    policy.check_complete(who, ds, item_ids, lambda: jobs.complete_items(ds.id, item_ids))


def _item(get_item: Callable[[int], Item], dataset: str, dataset_id: int, item_id: int) -> Item:
    try:
        item = get_item(item_id)
    except NotFoundError:
        item = None
    if item is None or item.dataset_id != dataset_id:
        raise NotFoundError(f"dataset {dataset!r} has no item {item_id}")
    return item


def _label(ws: Workspace, dataset: str, label_id: int) -> tuple[int, Label]:
    """The item id and the label ``label_id`` of the dataset, a ground-truth one."""
    ds = policy.dataset(ws, Action.LABELS_EDIT_ASSIGNED, dataset)
    try:
        item_id, label = ws.catalog.get_label(label_id)
        _item(ws.catalog.get_item, dataset, ds.id, item_id)
    except NotFoundError:
        raise NotFoundError(f"dataset {dataset!r} has no label {label_id}") from None
    if label.source != LabelSource.GROUND_TRUTH:
        raise ValidationError(
            f"label {label_id} of item {item_id} is a {label.source}: only ground-truth labels "
            "are edited",
            field="label_id",
        )
    return item_id, label


def _record(uow: UnitOfWork, item: Item, label: Label) -> State:
    """The record of ``label`` checked and completed for ``item`` (no id yet)."""
    kind = _kind(label.kind)
    if label.source != LabelSource.GROUND_TRUTH:
        raise ValidationError(
            f"item {item.id}: labels edited here are ground truth, not {label.source}",
            field="source",
        )
    name = _name(label.name)
    if label.is_main and kind != LabelKind.CLASSIFICATION:
        raise ValidationError(
            f"item {item.id}: only a classification is a main label, not a {kind}",
            field="is_main",
        )
    if not isinstance(label.attributes, dict):
        raise ValidationError("attributes must be an object", field="attributes")
    attributes = _answered(uow, item, kind, dict(label.attributes))
    geometry = _geometry(kind, label.geometry, item)
    class_id = OntologyCatalog(uow.catalog).class_ids(item.dataset_id, [name], create=True)[name]
    checked = Label(
        kind,
        name,
        is_main=bool(label.is_main),
        score=label.score,
        geometry=geometry,
        attributes=attributes,
        class_id=class_id,
        area=label_area(kind, geometry),
    )
    return label_record(checked, uow.actor, datetime.now(UTC).isoformat())


def label_record(label: Label, author: str | None, created_at: str | None) -> State:
    """A new label as :class:`LabelStates` records it (no id yet), made by ``author`` at
    ``created_at`` (ISO 8601 in UTC)."""
    return {
        "key": label_key(label),
        "kind": str(label.kind),
        "name": label.name,
        "source": str(label.source),
        "is_main": label.is_main,
        "score": label.score,
        "geometry": label.geometry,
        "attributes": label.attributes,
        "class_id": label.class_id,
        "author": author,
        "created_at": created_at,
        "model": label.model,
        "area": label.area,
    }


def _answered(uow: UnitOfWork, item: Item, kind: LabelKind, attributes: State) -> State:
    """``attributes`` with their ``answers`` checked against the ontology's questions (a
    classification answers the required ones) and normalised."""
    if kind != LabelKind.CLASSIFICATION and "answers" not in attributes:
        return attributes
    answers = attributes.pop("answers", None) or {}
    if not isinstance(answers, dict):
        raise ValidationError("answers must be an object {question: value}", field="answers")
    try:
        checked = check_answers(uow, item.dataset_id, answers)
    except ValidationError as exc:
        raise ValidationError(f"item {item.id}: {exc}", field=exc.field) from None
    return {**attributes, "answers": checked} if checked else attributes


def _as_label(record: State) -> Label:
    return Label(
        LabelKind(record["kind"]),
        record["name"],
        is_main=record["is_main"],
        score=record["score"],
        geometry=record["geometry"],
        attributes=record["attributes"],
    )


def _kind(kind: Any) -> LabelKind:
    try:
        return LabelKind(kind)
    except ValueError:
        kinds = ", ".join(k.value for k in LabelKind)
        raise ValidationError(
            f"unknown label kind {kind!r} (one of {kinds})", field="kind"
        ) from None


def _name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("the label's name is empty", field="name")
    if len(name.strip()) > MAX_NAME:
        raise ValidationError(
            f"the label's name is longer than {MAX_NAME} characters", field="name"
        )
    return name.strip()


def _geometry(kind: LabelKind, geometry: Any, item: Item) -> dict[str, Any] | None:
    """The geometry to store for a label of ``kind`` on ``item`` (a polygon repaired)."""
    try:
        if kind == LabelKind.CLASSIFICATION:
            if geometry:
                raise InvalidGeometry("a classification has no geometry")
            return None
        if not isinstance(geometry, dict):
            raise InvalidGeometry(f"a {kind} needs a geometry object")
        return _shape(kind, geometry, item)
    except InvalidGeometry as exc:
        raise ValidationError(f"item {item.id}: invalid {kind}: {exc}", field="geometry") from None


def _shape(kind: LabelKind, geometry: dict[str, Any], item: Item) -> dict[str, Any]:
    if kind == LabelKind.BOX:
        bbox = geometry.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(map(_is_number, bbox))):
            raise InvalidGeometry("'bbox' must be [x, y, width, height]")
        check_box(bbox)
        return {"bbox": bbox}
    if kind == LabelKind.POLYGON:
        parts = geometry.get("polygons")
        if not isinstance(parts, list) or not parts:
            raise InvalidGeometry("'polygons' must be a non-empty list of rings")
        return {"polygons": polygon_parts(parts)}
    if kind == LabelKind.POLYLINE:
        check_polyline(geometry.get("lines"))
        return {"lines": geometry["lines"]}
    rle = geometry.get("rle")
    check_rle(rle)
    size = [item.media.height, item.media.width] if item.media else None
    if rle["size"] != size:
        raise InvalidGeometry(f"RLE size {rle['size']} is not the item's [height, width] {size}")
    return {"rle": {"size": rle["size"], "counts": rle["counts"]}}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _others_not_main(labels: list[State], new: State) -> list[State]:
    """``labels`` with the main flag off on the other classifications when ``new`` is a main
    classification (single-label)."""
    if not (new["kind"] == LabelKind.CLASSIFICATION and new["is_main"]):
        return labels
    return [
        {**r, "is_main": False}
        if r["kind"] == LabelKind.CLASSIFICATION and r["is_main"] and r.get("id") != new.get("id")
        else r
        for r in labels
    ]


def _refuse_alike(item_id: int, labels: list[State]) -> None:
    seen: set[str] = set()
    for r in labels:
        if r["key"] in seen:
            raise ValidationError(
                f"item {item_id} has this label already ({r['kind']} {r['name']!r})",
                field="labels",
            )
        seen.add(r["key"])


__all__ = [
    "ENTITY",
    "LabelEdit",
    "add_label",
    "delete_label",
    "item_labels",
    "may_edit",
    "set_labels",
    "update_label",
]
