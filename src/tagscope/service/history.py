"""History and undo: every change of people's data is a change-set of the change log.

Use cases that change reviews or tag examples, or remove a tag, call :func:`record` inside their
unit of work: it reads the records before and after the edit and writes the change-set in the
same transaction, so that the edit and its history commit together or not at all. :func:`undo`
writes the compensating change-set (history is never rewritten).

Examples
--------
>>> history(ws, "coco")[0].action                                       # doctest: +SKIP
'review'
>>> undo(ws, "coco", 12).n_restored                                     # doctest: +SKIP
3
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from tagscope.domain import Dataset, LabelSource, NotFoundError, ValidationError
from tagscope.domain.changes import RECORD_ITSELF, Change, ChangeSet, UndoConflictError, UndoResult
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.change_log import ChangeLog, as_utc
from tagscope.store.gc_pause import paused_gc
from tagscope.store.label_jobs import LabelJobCatalog
from tagscope.store.label_states import LabelStates
from tagscope.store.ontology import OntologyCatalog
from tagscope.store.retry import retrying
from tagscope.store.review import ReviewCatalog
from tagscope.store.splits import SplitStates
from tagscope.store.uow import UnitOfWork

T = TypeVar("T")
State = dict[str, Any]
MAX_HISTORY = 1000
_SHOWN = 20  # item ids named in an error message
PRELABEL = LabelSource.PRELABEL
PREDICTION = LabelSource.PREDICTION


@dataclass(frozen=True, slots=True)
class UndoUserResult:
    """What :func:`undo_user` did: the change-sets undone (newest first), the compensating
    change-set of each (same order), the records put back, and the items left as they are."""

    undone: tuple[int, ...]
    change_sets: tuple[int, ...]
    n_restored: int
    skipped: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Entity:
    """How to read and to put back one kind of record; ``key`` is the tag's id."""

    read: Callable[[UnitOfWork, int, Sequence[int]], dict[int, State]]
    write: Callable[[UnitOfWork, int, Mapping[int, State | None]], None]
    # Locks the record's owner for the transaction; NotFoundError: it is gone for good.
    lock: Callable[[UnitOfWork, int], None] = lambda uow, tag_id: uow.tags.lock_tag(tag_id)
    # Names the owner of a RECORD_ITSELF record in a refused undo ("class 'cat'").
    describe: Callable[[UnitOfWork, int], str] | None = None


def _labels(uow: UnitOfWork, source: LabelSource | None) -> LabelStates:
    """Every kind of the items' labels from ``source`` (None: ground truth)."""
    return LabelStates(uow.catalog, None, source or LabelSource.GROUND_TRUTH)


ENTITIES = {
    "review": _Entity(
        lambda uow, tag_id, ids: uow.tags.review_states(tag_id, ids),
        lambda uow, tag_id, states: uow.tags.restore_reviews(tag_id, states),
    ),
    "example": _Entity(
        lambda uow, tag_id, ids: uow.tags.example_states(tag_id, ids),
        lambda uow, tag_id, states: uow.tags.restore_examples(tag_id, states),
    ),
    # Item RECORD_ITSELF is the tag's whole record: removing a tag takes its prompts, examples
    # and reviews along, and undoing that brings them all back.
    "tag": _Entity(
        lambda uow, tag_id, ids: uow.tags.tag_states(tag_id, ids),
        lambda uow, tag_id, states: uow.tags.restore_tag(tag_id, states),
        lambda uow, tag_id: uow.tags.lock_tag_record(tag_id),
        lambda uow, tag_id: uow.tags.describe_tag(tag_id),
    ),
    # ``key`` is the collection's id; item id 0 is the collection's own record.
    "collection": _Entity(
        lambda uow, collection_id, ids: uow.collections.states(collection_id, ids),
        lambda uow, collection_id, states: uow.collections.restore(collection_id, states),
        lambda uow, collection_id: uow.collections.lock(collection_id),
    ),
    # ``key`` is the dataset's id: the items' classifications (bulk classify).
    "labels": _Entity(
        lambda uow, dataset_id, ids: LabelStates(uow.catalog).states(dataset_id, ids),
        lambda uow, dataset_id, states: LabelStates(uow.catalog).restore(dataset_id, states),
        lambda uow, dataset_id: LabelStates(uow.catalog).lock(dataset_id),
    ),
    # ``key`` is the dataset's id: all the items' ground-truth labels (label edits).
    "annotations": _Entity(
        lambda uow, dataset_id, ids: _labels(uow, None).states(dataset_id, ids),
        lambda uow, dataset_id, states: _labels(uow, None).restore(dataset_id, states),
        lambda uow, dataset_id: LabelStates(uow.catalog).lock(dataset_id),
    ),
    # ``key`` is the dataset's id: all the items' prelabels (auto label jobs).
    "prelabels": _Entity(
        lambda uow, dataset_id, ids: _labels(uow, PRELABEL).states(dataset_id, ids),
        lambda uow, dataset_id, states: _labels(uow, PRELABEL).restore(dataset_id, states),
        lambda uow, dataset_id: LabelStates(uow.catalog).lock(dataset_id),
    ),
    # ``key`` is the dataset's id: all the items' predictions (a model's, written back).
    "predictions": _Entity(
        lambda uow, dataset_id, ids: _labels(uow, PREDICTION).states(dataset_id, ids),
        lambda uow, dataset_id, states: _labels(uow, PREDICTION).restore(dataset_id, states),
        lambda uow, dataset_id: LabelStates(uow.catalog).lock(dataset_id),
    ),
    # ``key`` is the label job's id: the review statuses of its changes on each item.
    "label_review": _Entity(
        lambda uow, job_id, ids: ReviewCatalog(uow.catalog).states(job_id, ids),
        lambda uow, job_id, states: ReviewCatalog(uow.catalog).restore(job_id, states),
        lambda uow, job_id: ReviewCatalog(uow.catalog).lock(job_id),
    ),
    # ``key`` is the dataset's id: the items' splits (the validation set, F-62).
    "split": _Entity(
        lambda uow, dataset_id, ids: SplitStates(uow.catalog).states(dataset_id, ids),
        lambda uow, dataset_id, states: SplitStates(uow.catalog).restore(dataset_id, states),
        lambda uow, dataset_id: SplitStates(uow.catalog).lock(dataset_id),
    ),
    # ``key`` is the class's id; item RECORD_ITSELF is its record (writing it renames labels).
    "ontology_class": _Entity(
        lambda uow, class_id, ids: OntologyCatalog(uow.catalog).states(class_id, ids),
        lambda uow, class_id, states: OntologyCatalog(uow.catalog).restore(class_id, states),
        lambda uow, class_id: OntologyCatalog(uow.catalog).lock(class_id),
        lambda uow, class_id: OntologyCatalog(uow.catalog).describe(class_id),
    ),
}


def record(
    uow: UnitOfWork,
    dataset_id: int,
    action: str,
    *,
    entity: str,
    tag_id: int,
    item_ids: Sequence[int],
    edit: Callable[[], T],
    params: dict[str, Any] | None = None,
    target: dict[str, Any] | None = None,
) -> T:
    """Run ``edit`` (which changes ``entity`` records of the tag for ``item_ids``) and write a
    change-set of what it changed; nothing is written when it changed nothing."""
    kind = ENTITIES[entity]
    ids = sorted({int(i) for i in item_ids})
    kind.lock(uow, tag_id)
    before = kind.read(uow, tag_id, ids)
    result = edit()
    after = kind.read(uow, tag_id, ids)
    changes = [
        Change(i, entity, str(tag_id), before.get(i), after.get(i))
        for i in ids
        if before.get(i) != after.get(i)
    ]
    if changes:
        uow.changes.record(dataset_id, uow.actor, action, changes, params=params, target=target)
    return result


def history(
    ws: Workspace,
    dataset: str,
    *,
    limit: int = 100,
    actor: str | None = None,
    since: datetime | None = None,
) -> list[ChangeSet]:
    """The dataset's change-sets, newest first: who, when, what, on what, how many items; only
    those of ``actor`` and made at or after ``since`` (a naive time is UTC) when given."""
    if not 1 <= limit <= MAX_HISTORY:
        raise ValidationError(f"limit must be within 1..{MAX_HISTORY}, got {limit}", field="limit")
    ds = policy.dataset(ws, Action.READ, dataset)
    return ChangeLog(ws.catalog).history(ds.id, limit=limit, actor=actor, since=since)


def actors(ws: Workspace, dataset: str) -> list[str]:
    """Who made the dataset's change-sets (account or OS user names), sorted."""
    return ChangeLog(ws.catalog).actors(policy.dataset(ws, Action.READ, dataset).id)


def get_change_set(ws: Workspace, dataset: str, change_id: int) -> ChangeSet:
    """One change-set with every change (each item's record before and after)."""
    return ChangeLog(ws.catalog).get(policy.dataset(ws, Action.READ, dataset).id, change_id)


@paused_gc()
@retrying
def undo(ws: Workspace, dataset: str, change_id: int, *, force: bool = False) -> UndoResult:
    """Put back what change-set ``change_id`` changed, as a new change-set that undoes it.

    An item whose record is no longer what the change-set left (someone changed it since) makes
    the undo refuse, naming the items, unless ``force``: then those items are left as they are
    and reported in ``skipped``.

    Raises
    ------
    UndoConflictError
        Items changed since, without ``force`` (``items`` lists them).
    ValidationError
        The change-set was undone already.
    NotFoundError
        The dataset has no such change-set.
    """
    ds = policy.dataset(ws, Action.HISTORY_UNDO, dataset)
    with ws.uow() as uow:
        old = uow.changes.get(ds.id, change_id)
        if old.undone_by is not None:
            raise ValidationError(
                f"change-set {change_id} was undone already by change-set {old.undone_by}",
                field="change_id",
            )
        _check_complete(ws, ds, old.changes)
        kept, skipped, named = _check(uow, _by_record(old.changes))
        if skipped and not force:
            raise UndoConflictError(
                f"cannot undo change-set {change_id}: {_changed_since(skipped, named)}; undo "
                "with force to leave those as they are",
                items=[i for i in skipped if i != RECORD_ITSELF],
            )
        return _compensate(uow, old, kept, skipped, {"force": force})


# Entities whose undo changes items' labels or their review: items whose review is complete
# are changed only by admins, undo included.
_LABEL_ENTITIES = frozenset({"labels", "annotations", "prelabels", "label_review"})


def _check_complete(ws: Workspace, ds: Dataset, changes: Sequence[Change]) -> None:
    items = sorted({c.item_id for c in changes if c.entity in _LABEL_ENTITIES} - {RECORD_ITSELF})
    if items:
        jobs = LabelJobCatalog(ws.catalog)
        policy.check_complete(ws.identity, ds, items, lambda: jobs.complete_items(ds.id, items))


def undo_user_plan(ws: Workspace, dataset: str, actor: str, since: datetime) -> list[ChangeSet]:
    """The change-sets :func:`undo_user` would undo, newest first (its dry run)."""
    ds = policy.dataset(ws, Action.HISTORY_UNDO_USER, dataset)
    return ChangeLog(ws.catalog).history(ds.id, limit=None, actor=actor, since=since, undoable=True)


@paused_gc()
@retrying
def undo_user(
    ws: Workspace, dataset: str, actor: str, since: datetime, *, force: bool = False
) -> UndoUserResult:
    """Undo every change-set ``actor`` made on the dataset at or after ``since`` (a naive time
    is UTC) that is not undone yet and not itself an undo: newest first, each by its own
    compensating change-set made by the caller, all in one transaction (all or nothing).

    Undoing newest first puts back the actor's own later edits before checking the earlier
    ones, so only edits by others (or by the actor before ``since``, or undone since) count as
    "changed since".

    Raises
    ------
    UndoConflictError
        Items changed since by others, without ``force``: nothing is undone; ``items`` and
        ``change_sets`` name what blocks.
    PermissionDeniedError
        The caller may not undo another user's changes (admins only).
    """
    ds = policy.dataset(ws, Action.HISTORY_UNDO_USER, dataset)
    params = {"user": actor, "since": as_utc(since).isoformat(), "force": force}
    undone: list[int] = []
    made: list[int] = []
    n_restored = 0
    skipped_all: set[int] = set()
    blocked: list[tuple[int, list[int], list[str]]] = []
    with ws.uow() as uow:
        listed = uow.changes.history(ds.id, limit=None, actor=actor, since=since, undoable=True)
        for entry in listed:
            old = uow.changes.get(ds.id, entry.id)
            if old.undone_by is not None:  # by someone else meanwhile
                continue
            kept, skipped, named = _check(uow, _by_record(old.changes))
            if skipped:
                blocked.append((old.id, skipped, named))
                skipped_all.update(skipped)
            result = _compensate(uow, old, kept, skipped, params)
            undone.append(old.id)
            made.append(result.change_set.id)
            n_restored += result.n_restored
        if blocked and not force:  # leaving the block rolls every undo back
            raise _user_conflict(actor, since, blocked)
    return UndoUserResult(
        tuple(undone), tuple(made), n_restored, tuple(sorted(skipped_all - {RECORD_ITSELF}))
    )


def _by_record(changes: Sequence[Change]) -> dict[tuple[str, str], list[Change]]:
    by_record: dict[tuple[str, str], list[Change]] = defaultdict(list)
    for change in changes:
        by_record[change.entity, change.key].append(change)
    return by_record


def _compensate(
    uow: UnitOfWork,
    old: ChangeSet,
    kept: Mapping[tuple[str, str], list[Change]],
    skipped: Sequence[int],
    params: Mapping[str, Any],
) -> UndoResult:
    """Put back the ``kept`` records of ``old`` and write the change-set that undoes it."""
    for (entity, key), changes in kept.items():
        ENTITIES[entity].write(uow, int(key), {c.item_id: c.before for c in changes})
    compensating = [
        Change(c.item_id, c.entity, c.key, c.after, c.before)
        for changes in kept.values()
        for c in changes
    ]
    new = uow.changes.record(
        old.dataset_id,
        uow.actor,
        "undo",
        compensating,
        params={"change_set": old.id, "action": old.action, **params},
        target=old.target,
        undoes=old.id,
    )
    return UndoResult(new, len(compensating), tuple(skipped))


def _user_conflict(
    actor: str, since: datetime, blocked: Sequence[tuple[int, list[int], list[str]]]
) -> UndoConflictError:
    """The refusal of :func:`undo_user`: each blocked change-set and what changed since."""
    items = sorted({i for _, skipped, _ in blocked for i in skipped if i != RECORD_ITSELF})
    shown = "; ".join(
        f"change-set {cs}: {_changed_since(skipped, named)}" for cs, skipped, named in blocked[:5]
    )
    more = f"; and {len(blocked) - 5} more change-set(s)" if len(blocked) > 5 else ""
    return UndoConflictError(
        f"cannot undo the changes of {actor} since {as_utc(since).isoformat(timespec='seconds')}: "
        f"{len(blocked)} change-set(s) touch records changed since by others ({shown}{more}); "
        "nothing was undone; undo with force to leave those as they are",
        items=items,
        change_sets=[cs for cs, _, _ in blocked],
    )


def _check(
    uow: UnitOfWork, by_record: Mapping[tuple[str, str], list[Change]]
) -> tuple[dict[tuple[str, str], list[Change]], list[int], list[str]]:
    """Split the changes into those whose record is still as the change-set left it, and the
    ids of the items changed since (or whose tag is gone), with the owners of the records
    themselves changed since as ``describe`` names them; the tags stay locked."""
    kept: dict[tuple[str, str], list[Change]] = {}
    changed: set[int] = set()
    named: list[str] = []
    for (entity, key), changes in by_record.items():
        try:
            ENTITIES[entity].lock(uow, int(key))
        except NotFoundError:  # the tag was removed since: its records cannot come back
            changed.update(c.item_id for c in changes)
            continue
        current = ENTITIES[entity].read(uow, int(key), [c.item_id for c in changes])
        same = [c for c in changes if current.get(c.item_id) == c.after]
        changed.update(c.item_id for c in changes if current.get(c.item_id) != c.after)
        describe = ENTITIES[entity].describe
        if describe and any(
            c.item_id == RECORD_ITSELF and current.get(c.item_id) != c.after for c in changes
        ):
            named.append(describe(uow, int(key)))
        if same:
            kept[entity, key] = same
    return kept, sorted(changed), named


def _changed_since(skipped: Sequence[int], named: Sequence[str] = ()) -> str:
    """``"2 item(s) changed since (4, 9)"``, naming the record itself apart from items."""
    items = [i for i in skipped if i != RECORD_ITSELF]
    parts = []
    if len(items) < len(skipped):
        what = ", ".join(named) or "e.g. a collection frozen or re-created"
        parts.append(f"the record itself changed since ({what})")
    if items:
        shown = ", ".join(map(str, items[:_SHOWN])) + (" ..." if len(items) > _SHOWN else "")
        parts.append(f"{len(items)} item(s) changed since ({shown})")
    return " and ".join(parts)


__all__ = [
    "ENTITIES",
    "UndoUserResult",
    "actors",
    "get_change_set",
    "history",
    "record",
    "undo",
    "undo_user",
    "undo_user_plan",
]
