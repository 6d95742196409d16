"""Bulk classify (F-53): one classification on every item of a collection or of a selection.

A classification is a class of the dataset's ontology (created when missing) and the answers to
its questions (checked by ``ontology.check_answers``, kept in the label's attributes as
``{"answers": {...}}``): a ground-truth ``classification`` label, written as the item's main
label. Items that have a ground-truth classification already are skipped unless ``overwrite``
(then it replaces theirs); their tags' reviews do not matter, but items whose label review is
complete (:mod:`tagscope.service.policy`) are skipped, ``review complete (admins only)``, unless an
admin runs it. The real run is one change-set of entity ``labels`` (key: the dataset's id), so
``history.undo`` puts back exactly the labels there were (a class it created stays in the
ontology).

Examples
--------
>>> bulk_classify(ws, "coco", collection="cats", label="cat", dry_run=True)  # doctest: +SKIP
BulkResult(n_changed=412, n_skipped=3, skipped={'already classified': 3}, ...)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tagscope.domain import Label, LabelKind, LabelSource, ValidationError
from tagscope.domain.changes import Change
from tagscope.service import policy
from tagscope.service.collections import collection_item_ids
from tagscope.service.labels import label_record
from tagscope.service.ontology import check_answers
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.catalog import Catalog
from tagscope.store.collections import CollectionCatalog, shown
from tagscope.store.gc_pause import paused_gc
from tagscope.store.label_jobs import LabelJobCatalog
from tagscope.store.label_states import FIELDS, LabelStates
from tagscope.store.ontology import OntologyCatalog
from tagscope.store.retry import retrying

ALREADY_CLASSIFIED = "already classified"
ALREADY_THIS_LABEL = "already this label"
REVIEW_COMPLETE = "review complete (admins only)"
MAX_NAME = 256  # the labels table's name column
_ENTITY = "labels"
# Who made a label and when: not part of what makes an item "already this label".
_PROVENANCE = frozenset({"id", "author", "created_at", "model", "area"})
State = dict[str, Any]


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a bulk classify changed (or, on a dry run, would change)."""

    n_changed: int
    n_skipped: int
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> number of items
    change_set: int | None = None  # None on a dry run or when nothing changed
    dry_run: bool = False


@paused_gc()
@retrying
def bulk_classify(
    ws: Workspace,
    dataset: str,
    *,
    collection: str | None = None,
    item_ids: Sequence[int] | None = None,
    label: str,
    answers: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
) -> BulkResult:
    """Classify as class ``label`` (created in the ontology when missing), with the question
    ``answers`` (``{question: value}``; a checklist's value a list or comma-separated), every
    item of ``collection`` (a title) or of ``item_ids``.

    Raises
    ------
    ValidationError
        Neither or both of ``collection`` and ``item_ids``; an empty or too long label; ids that
        are not the dataset's items (named); answers the questions do not allow (the question
        and its options named).
    NotFoundError
        No such dataset or collection.
    """
    if (collection is None) == (item_ids is None):
        raise ValidationError("give either a collection or item ids, not both", field="collection")
    name = _checked_name(label)
    ds = policy.dataset(ws, Action.LABELS_BULK, dataset)
    if collection is not None:
        ids = collection_item_ids(ws, dataset, collection)
        target: dict[str, Any] = {"collection": collection.strip()}
    else:
        ids = _checked_ids(ws.catalog, ds.id, item_ids or [])
        target = {"selection": len(ids)}
    if dry_run:  # a read: no unit of work (on SQLite it would take the write lock)
        checked = check_answers(ws, ds.id, answers or {})
        class_id = OntologyCatalog(ws.catalog).class_ids(ds.id, [name], create=False).get(name)
        new = _new_record(name, class_id, checked, None)
        todo, locked = _unlocked(ws, ws.catalog, ds.id, ids)
        changed, skipped = _plan(todo, LabelStates(ws.catalog).states(ds.id, todo), new, overwrite)
        skipped.update(locked)
        return BulkResult(len(changed), sum(skipped.values()), dict(skipped), dry_run=True)
    with ws.uow() as uow:
        states = LabelStates(uow.catalog)
        states.lock(ds.id)
        checked = check_answers(uow, ds.id, answers or {})  # before the class is created
        class_id = OntologyCatalog(uow.catalog).class_ids(ds.id, [name])[name]
        new = _new_record(name, class_id, checked, uow.actor)
        todo, locked = _unlocked(ws, uow.catalog, ds.id, ids)
        before = states.states(ds.id, todo)
        changed, skipped = _plan(todo, before, new, overwrite)
        skipped.update(locked)
        after = states.restore(ds.id, {i: {"labels": [new]} for i in changed})
        changes = [Change(i, _ENTITY, str(ds.id), before.get(i), after.get(i)) for i in changed]
        change_set = None
        if changes:
            params = {
                "label": name,
                "answers": checked,
                "overwrite": overwrite,
                "n_items": len(ids),
            }
            made = uow.changes.record(
                ds.id, uow.actor, "bulk_classify", changes, params=params, target=target
            )
            change_set = made.id
    return BulkResult(len(changed), sum(skipped.values()), dict(skipped), change_set)


def _unlocked(
    ws: Workspace, catalog: Catalog, dataset_id: int, ids: list[int]
) -> tuple[list[int], Counter[str]]:
    """``ids`` but the items whose review is complete when the caller may not change those
    (they are skipped), and the skipped count."""
    if policy.allows(ws.identity, Action.LABELS_EDIT_COMPLETE, dataset_id):
        return ids, Counter()
    complete = LabelJobCatalog(catalog).complete_items(dataset_id, ids)
    if not complete:
        return ids, Counter()
    return [i for i in ids if i not in complete], Counter({REVIEW_COMPLETE: len(complete)})


def _checked_name(label: str) -> str:
    name = label.strip()
    if not name:
        raise ValidationError("the label is empty", field="label")
    if len(name) > MAX_NAME:
        raise ValidationError(f"the label is longer than {MAX_NAME} characters", field="label")
    return name


def _checked_ids(catalog: Catalog, dataset_id: int, item_ids: Sequence[int]) -> list[int]:
    ids = sorted({int(i) for i in item_ids})
    missing = CollectionCatalog(catalog).missing_items(dataset_id, ids)
    if missing:
        raise ValidationError(
            f"{len(missing)} item id(s) are not items of the dataset: {shown(missing)}",
            field="items",
        )
    return ids


def _new_record(
    name: str, class_id: int | None, answers: dict[str, Any], author: str | None
) -> State:
    """The label every changed item gets, as :class:`LabelStates` records it (no id yet)."""
    attributes = {"answers": answers} if answers else {}
    label = Label(
        LabelKind.CLASSIFICATION,
        name,
        LabelSource.GROUND_TRUTH,
        is_main=True,
        attributes=attributes,
        class_id=class_id,
    )
    record = label_record(label, author, datetime.now(UTC).isoformat())
    return {k: v for k, v in record.items() if k in FIELDS}


def _what(label: State) -> State:
    """What makes two labels the same classification (not who made them, nor when)."""
    return {k: v for k, v in label.items() if k not in _PROVENANCE}


def _plan(
    ids: Sequence[int], before: Mapping[int, State], new: State, overwrite: bool
) -> tuple[list[int], Counter[str]]:
    """The items to change and, per reason, how many are skipped."""
    changed: list[int] = []
    skipped: Counter[str] = Counter()
    for i in ids:
        labels = before.get(i, {}).get("labels", [])
        if not labels:
            changed.append(i)
        elif [_what(lab) for lab in labels] == [_what(new)]:
            skipped[ALREADY_THIS_LABEL] += 1
        elif overwrite:
            changed.append(i)
        elif {lab["name"] for lab in labels} == {new["name"]}:
            skipped[ALREADY_THIS_LABEL] += 1
        else:
            skipped[ALREADY_CLASSIFIED] += 1
    return changed, skipped


__all__ = [
    "ALREADY_CLASSIFIED",
    "ALREADY_THIS_LABEL",
    "REVIEW_COMPLETE",
    "BulkResult",
    "bulk_classify",
]
