"""Label jobs (F-70, F-71): pre-label a collection, hand it to people, match what they made.

- An **auto** job pre-labels the items of a collection (source ``prelabel``): from a tag's
  decisions (items scoring at or above its threshold get a classification named as the tag, its
  score, model ``tag:<group>/<tag>``) or from the prediction labels already on the items (copied,
  model kept). The prelabels are one change-set of entity ``prelabels``: undoing it removes them.
- A **manual** job keeps the collection's items as they are now, each given to one of its
  assignees in turn; people label them (ground truth) seeing the prelabels, mark them done, and
  submit the job: each item's expert labels are matched to its prelabels
  (:mod:`tagscope.labels.matching`) into ``label_changes``, pending review, in one transaction.

Examples
--------
>>> create_manual_job(ws, "coco", "fix-boxes", "street", assignees=["ann", "bob"])  # doctest: +SKIP
>>> submit_job(ws, "coco", "fix-boxes").changes                                    # doctest: +SKIP
{'unchanged': 410, 'geometry_changed': 37, 'class_changed': 5, 'added': 3, 'deleted': 2}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from tagscope._lazy import deferred
from tagscope.domain import (
    AlreadyExistsError,
    Label,
    LabelKind,
    LabelSource,
    NotFoundError,
    ValidationError,
)
from tagscope.domain.changes import Change
from tagscope.domain.collections import validate_title
from tagscope.domain.geometry import label_area
from tagscope.domain.label_jobs import (
    JobKind,
    LabelChange,
    LabelJob,
    LabelJobItem,
    LabelJobStatus,
    ReviewStatus,
    validate_iou,
    validate_job_name,
)
from tagscope.domain.tags import validate_threshold
from tagscope.labels.matching import DEFAULT_IOU, match
from tagscope.service import policy
from tagscope.service.collections import collection_item_ids
from tagscope.service.labels import label_record
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.collections import shown
from tagscope.store.gc_pause import paused_gc
from tagscope.store.label_jobs import LabelJobCatalog
from tagscope.store.label_states import LabelStates, iso_time
from tagscope.store.ontology import OntologyCatalog
from tagscope.store.retry import retrying
from tagscope.store.uow import UnitOfWork

if TYPE_CHECKING:
    from tagscope.service import _tag_models as tm
    from tagscope.service import tag_insights
else:  # scikit-learn and the tag models: only for a job made from a tag
    tm = deferred("tagscope.service._tag_models")
    tag_insights = deferred("tagscope.service.tag_insights")

PREDICTIONS = "prediction"  # ``source_labels`` of an auto job made from predictions
MAX_ASSIGNEE = 128
_ENTITY = "prelabels"
_SCORES = "visual"  # the score table a tag's decisions are read from
State = dict[str, Any]


# -- jobs -----------------------------------------------------------------------------------
@paused_gc()
@retrying
def create_auto_job(
    ws: Workspace,
    dataset: str,
    name: str,
    collection: str,
    *,
    tag: str | None = None,
    group: str | None = None,
    threshold: float | None = None,
    source_labels: str | None = None,
    model: str | None = None,
) -> LabelJob:
    """Pre-label the items of ``collection``: from ``tag`` of ``group`` (its decisions at
    ``threshold``, by default the tag's), or with ``source_labels="prediction"`` from the items'
    prediction labels (of ``model`` when given). One change-set (``params["change_set"]``).

    Raises
    ------
    ValidationError
        Neither or both of a tag and source labels; a tag without group; a bad name,
        threshold or source; an empty collection; a group that has not scored the dataset.
    NotFoundError
        No such dataset, collection, group or tag.
    AlreadyExistsError
        The dataset has a label job of that name.
    """
    name = validate_job_name(name)
    if (tag is None) == (source_labels is None):
        raise ValidationError(
            "give either a tag (with its group) or source_labels='prediction', not both",
            field="tag",
        )
    ds = policy.dataset(ws, Action.LABEL_JOBS_MANAGE, dataset)
    title, ids = _collection(ws, dataset, collection)
    if tag is not None:
        if group is None:
            raise ValidationError("a tag needs its group", field="group")
        prelabels, params = _from_tag(ws, dataset, group, tag, threshold, ids)
    else:
        if source_labels != PREDICTIONS:
            raise ValidationError(
                f"source_labels must be {PREDICTIONS!r}, got {source_labels!r}",
                field="source_labels",
            )
        prelabels, params = _from_predictions(ws, ids, model)
    with ws.uow() as uow:
        jobs = LabelJobCatalog(uow.catalog)
        _refuse_taken(jobs, ds.id, name)
        target = {"label_job": name, "collection": title}
        change_set = _write_prelabels(uow, ds.id, prelabels, params, target)
        params = {**params, "change_set": change_set, "n_prelabels": _count(prelabels)}
        return jobs.create(
            ds.id,
            name,
            kind=JobKind.AUTO,
            status=LabelJobStatus.DONE,
            collection=title,
            params=params,
            assignees=(),
            created_by=uow.actor,
            items=dict.fromkeys(ids),
        )


@retrying
def create_manual_job(
    ws: Workspace, dataset: str, name: str, collection: str, assignees: Sequence[str] = ()
) -> LabelJob:
    """A manual job of the collection's items as they are now, given to ``assignees`` in turn
    (by item id; none: to nobody in particular).

    Raises
    ------
    ValidationError
        A bad name or assignee, an empty collection.
    NotFoundError
        No such dataset or collection.
    AlreadyExistsError
        The dataset has a label job of that name.
    """
    name = validate_job_name(name)
    people = _checked_assignees(assignees)
    ds = policy.dataset(ws, Action.LABEL_JOBS_MANAGE, dataset)
    title, ids = _collection(ws, dataset, collection)
    items = {i: people[k % len(people)] if people else None for k, i in enumerate(ids)}
    with ws.uow() as uow:
        return LabelJobCatalog(uow.catalog).create(
            ds.id,
            name,
            kind=JobKind.MANUAL,
            status=LabelJobStatus.OPEN,
            collection=title,
            params={},
            assignees=people,
            created_by=uow.actor,
            items=items,
        )


def list_jobs(ws: Workspace, dataset: str) -> list[LabelJob]:
    """The dataset's label jobs, newest first, with their counts."""
    return LabelJobCatalog(ws.catalog).list_jobs(policy.dataset(ws, Action.READ, dataset).id)


def get_job(ws: Workspace, dataset: str, name: str) -> LabelJob:
    """The job with its counts (items, items done, label changes per kind)."""
    ds = policy.dataset(ws, Action.READ, dataset)
    return LabelJobCatalog(ws.catalog).get(ds.id, validate_job_name(name))


@retrying
def delete_job(ws: Workspace, dataset: str, name: str) -> None:
    """Delete the job with its items and label changes; the labels stay (undo an auto job's
    change-set to remove its prelabels). A job whose review is complete on some items is
    deleted by admins only: it would make them changeable again."""
    ds = policy.dataset(ws, Action.LABEL_JOBS_MANAGE, dataset)
    with ws.uow() as uow:
        jobs = LabelJobCatalog(uow.catalog)
        job = jobs.get(ds.id, validate_job_name(name))
        jobs.lock(job.id)
        policy.check_complete(
            ws.identity, ds, None, lambda: jobs.complete_items(ds.id, job_id=job.id)
        )
        jobs.delete(job.id)


# -- labelling ------------------------------------------------------------------------------
def job_items(
    ws: Workspace, dataset: str, name: str, assignee: str | None = None
) -> list[LabelJobItem]:
    """The job's items (of ``assignee`` when given), each with its prelabels and its expert
    (ground-truth) labels as they are now."""
    job = get_job(ws, dataset, name)
    jobs = LabelJobCatalog(ws.catalog)
    rows = jobs.items(job.id, assignee)
    ids = [i for i, _, _, _ in rows]
    prelabels = jobs.labels(ids, LabelSource.PRELABEL)
    expert = jobs.labels(ids, LabelSource.GROUND_TRUTH)
    return [
        LabelJobItem(
            item_id=i,
            path=path,
            assignee=who,
            done_at=done_at,
            prelabels=[snapshot(lab) for lab in prelabels.get(i, [])],
            expert=[snapshot(lab) for lab in expert.get(i, [])],
        )
        for i, path, who, done_at in rows
    ]


@retrying
def mark_done(
    ws: Workspace, dataset: str, name: str, item_ids: Sequence[int], *, done: bool = True
) -> int:
    """Mark items of an open manual job done (or, ``done=False``, not done); how many changed.

    Needs label_jobs.manage, or labels.edit_assigned when the items are given to the caller.
    Raises ``ValidationError`` for a job that is not open or ids that are not its items.
    """
    ds = policy.dataset(ws, Action.LABELS_EDIT_ASSIGNED, dataset)
    with ws.uow() as uow:
        jobs = LabelJobCatalog(uow.catalog)
        job = _open_job(jobs, ds.id, name)
        missing = jobs.missing_items(job.id, item_ids)
        if missing:
            raise ValidationError(
                f"{len(missing)} item id(s) are not items of label job {job.name!r}: "
                f"{shown(missing)}",
                field="items",
            )
        who = ws.identity
        policy.check_assigned(
            who,
            ds,
            item_ids,
            lambda: jobs.assigned_items(ds.id, who.name, item_ids, job.id),
            unless=Action.LABEL_JOBS_MANAGE,
        )
        return jobs.set_done(job.id, item_ids, datetime.now(UTC) if done else None)


@paused_gc()
@retrying
def submit_job(ws: Workspace, dataset: str, name: str, iou: float = DEFAULT_IOU) -> LabelJob:
    """Submit an open manual job: match each item's expert labels to its prelabels (boxes,
    polygons and masks by IoU at least ``iou``) and write the label changes, pending review.

    Raises
    ------
    ValidationError
        ``iou`` outside (0, 1]; the job is not open (an auto job, or submitted already).
    NotFoundError
        No such dataset or job.
    """
    threshold = validate_iou(iou)
    ds = policy.dataset(ws, Action.LABEL_JOBS_MANAGE, dataset)
    with ws.uow() as uow:
        jobs = LabelJobCatalog(uow.catalog)
        job = _open_job(jobs, ds.id, name)
        ids = [i for i, _, _, _ in jobs.items(job.id)]
        expert = jobs.labels(ids, LabelSource.GROUND_TRUTH)
        prelabels = jobs.labels(ids, LabelSource.PRELABEL)
        rows = [
            row
            for i in ids
            for row in _change_rows(i, expert.get(i, []), prelabels.get(i, []), threshold)
        ]
        jobs.add_changes(job.id, rows)
        params = {**job.params, "iou": threshold}
        jobs.set_status(job.id, LabelJobStatus.SUBMITTED, datetime.now(UTC), params=params)
    return get_job(ws, dataset, job.name)


def label_changes(ws: Workspace, dataset: str, name: str) -> list[LabelChange]:
    """The label changes a submitted job's matching wrote, by id."""
    job = get_job(ws, dataset, name)
    return LabelJobCatalog(ws.catalog).changes(job.id)


def snapshot(label: Label) -> dict[str, Any]:
    """A label as a job item and a label change show it (JSON)."""
    return {
        "id": label.id,
        "kind": str(label.kind),
        "name": label.name,
        "class_id": label.class_id,
        "source": str(label.source),
        "is_main": label.is_main,
        "score": label.score,
        "model": label.model,
        "geometry": label.geometry,
        "area": label.area,
        "attributes": label.attributes,
    }


# -- helpers --------------------------------------------------------------------------------
def _collection(ws: Workspace, dataset: str, collection: str) -> tuple[str, list[int]]:
    title = validate_title(collection)
    ids = collection_item_ids(ws, dataset, title)
    if not ids:
        raise ValidationError(f"collection {title!r} has no items", field="collection")
    return title, ids


def _refuse_taken(jobs: LabelJobCatalog, dataset_id: int, name: str) -> None:
    try:
        jobs.get(dataset_id, name)
    except NotFoundError:
        return
    raise AlreadyExistsError(f"the dataset has a label job named {name!r} already")


def _open_job(jobs: LabelJobCatalog, dataset_id: int, name: str) -> LabelJob:
    job = jobs.get(dataset_id, validate_job_name(name))
    jobs.lock(job.id)
    job = jobs.get(dataset_id, job.name)  # as it is now that it is locked
    if job.kind == JobKind.AUTO:
        raise ValidationError(
            f"label job {job.name!r} is an auto job: its prelabels are written; make a manual "
            "job of its collection to have them checked",
            field="name",
        )
    if job.status != LabelJobStatus.OPEN:
        raise ValidationError(
            f"label job {job.name!r} is {job.status} already, not open", field="name"
        )
    return job


def _checked_assignees(assignees: Sequence[str]) -> list[str]:
    if isinstance(assignees, str):  # one name, not its letters
        assignees = [assignees]
    people: list[str] = []
    for who in assignees:
        clean = str(who).strip()
        if not clean or len(clean) > MAX_ASSIGNEE or any(c in clean for c in "\r\n\0,"):
            raise ValidationError(
                f"an assignee is a user id of 1..{MAX_ASSIGNEE} characters without commas, "
                f"got {who!r}",
                field="assignees",
            )
        if clean not in people:
            people.append(clean)
    return people


def _from_tag(
    ws: Workspace,
    dataset: str,
    group: str,
    tag: str,
    threshold: float | None,
    ids: Sequence[int],
) -> tuple[dict[int, list[Label]], dict[str, Any]]:
    """Items of ``ids`` the tag decides for, each with its prelabel classification."""
    ds, grp, t = tm.tag_in_context(ws, dataset, group, tag)
    limit = t.threshold if threshold is None else validate_threshold(threshold)
    scores = tag_insights.current_scores(ws, ds, grp, t, _SCORES)
    rows = np.searchsorted(scores.ids, np.asarray(ids, np.int64))
    rows = rows.clip(max=max(len(scores.ids) - 1, 0))
    model = f"tag:{grp.name}/{t.name}"
    out: dict[int, list[Label]] = {}
    for item_id, row in zip(ids, rows.tolist(), strict=True):
        if not len(scores.ids) or scores.ids[row] != item_id:
            continue  # not scored
        score = scores.scores[row]
        if score >= np.float32(limit):  # in float32, as score files and SQL views decide
            label = Label(
                LabelKind.CLASSIFICATION,
                t.name,
                LabelSource.PRELABEL,
                score=float(score),
                model=model,
            )
            out[item_id] = [label]
    params = {"group": grp.name, "tag": t.name, "threshold": limit}
    return out, params


def _from_predictions(
    ws: Workspace, ids: Sequence[int], model: str | None
) -> tuple[dict[int, list[Label]], dict[str, Any]]:
    """The items' prediction labels (of ``model``), as prelabels."""
    found = LabelJobCatalog(ws.catalog).labels(ids, LabelSource.PREDICTION, model)
    out = {
        i: [
            Label(
                lab.kind,
                lab.name,
                LabelSource.PRELABEL,
                is_main=lab.is_main,
                score=lab.score,
                geometry=lab.geometry,
                attributes=lab.attributes,
                class_id=lab.class_id,
                model=lab.model,
                area=label_area(lab.kind, lab.geometry),
            )
            for lab in labels
        ]
        for i, labels in found.items()
    }
    params: dict[str, Any] = {"source_labels": PREDICTIONS}
    if model is not None:
        params["model"] = model
    return out, params


def _count(prelabels: Mapping[int, list[Label]]) -> int:
    return sum(len(v) for v in prelabels.values())


def _write_prelabels(
    uow: UnitOfWork,
    dataset_id: int,
    prelabels: Mapping[int, list[Label]],
    params: dict[str, Any],
    target: dict[str, Any],
) -> int | None:
    """Add ``prelabels`` to the items' prelabels (one already there is kept as it is) as one
    change-set of entity ``prelabels``; its id, or None when nothing changed."""
    states = LabelStates(uow.catalog, kinds=None, source=LabelSource.PRELABEL)
    states.lock(dataset_id)
    ids = sorted(prelabels)
    before = states.states(dataset_id, ids)
    names = {lab.name for labels in prelabels.values() for lab in labels}
    class_ids = OntologyCatalog(uow.catalog).class_ids(dataset_id, names)
    now = iso_time(datetime.now(UTC))
    wanted: dict[int, State] = {}
    for i in ids:
        have = list(before.get(i, {}).get("labels", []))
        keys = {lab["key"] for lab in have}
        for label in prelabels[i]:
            record = _record(label, uow.actor, class_ids.get(label.name), now)
            if record["key"] not in keys:
                keys.add(record["key"])
                have.append(record)
        if len(have) > len(before.get(i, {}).get("labels", [])):
            wanted[i] = {"labels": have}
    if not wanted:
        return None
    after = states.restore(dataset_id, wanted)
    changes = [Change(i, _ENTITY, str(dataset_id), before.get(i), after.get(i)) for i in wanted]
    made = uow.changes.record(
        dataset_id, uow.actor, "auto_label_job", changes, params=params, target=target
    )
    return made.id


def _record(label: Label, actor: str, class_id: int | None, now: str | None) -> State:
    """A new prelabel as the ``prelabels`` entity records it (no id yet): made by ``actor``
    ``now``, of its ontology class (the label's own, else ``class_id``)."""
    if label.class_id is None:
        label = replace(label, class_id=class_id)
    return label_record(label, actor, now)


def _change_rows(
    item_id: int, expert: Sequence[Label], prelabels: Sequence[Label], iou: float
) -> list[dict[str, Any]]:
    """The ``label_changes`` rows of one item (pending)."""
    rows = []
    for m in match(expert, prelabels, iou):
        e = expert[m.expert] if m.expert is not None else None
        p = prelabels[m.prelabel] if m.prelabel is not None else None
        rows.append(
            {
                "item_id": item_id,
                "change": str(m.change),
                "label_kind": str(m.label_kind),
                "expert_class": e.name if e else None,
                "prelabel_class": p.name if p else None,
                "iou": m.iou,
                "expert_area": m.expert_area,
                "prelabel_area": m.prelabel_area,
                "adjustment": m.adjustment,
                "status": str(ReviewStatus.PENDING),
                "expert_label_id": e.id if e else None,
                "prelabel_label_id": p.id if p else None,
                "expert": snapshot(e) if e else None,
                "prelabel": snapshot(p) if p else None,
            }
        )
    return rows


__all__ = [
    "PREDICTIONS",
    "create_auto_job",
    "create_manual_job",
    "delete_job",
    "get_job",
    "job_items",
    "label_changes",
    "list_jobs",
    "mark_done",
    "snapshot",
    "submit_job",
]
