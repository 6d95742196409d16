"""The one place that decides permissions (F-90): a table of action x role, and the rules around it.

Use cases ask it (``policy.dataset(ws, Action.TAGS_EDIT, name)``); faces only pass the caller's
:class:`~tagscope.domain.access.Identity` (on ``ws.identity``) and never decide anything.

A caller's role on a dataset is its role there, else its workspace-wide role; a token reaches
only its dataset (when it has one) and acts at most with its scope. Every role may read (browse,
search, SQL) the datasets it has a role on; nothing at all is visible of the others. The
workspace's owner (the CLI and SDK on the folder, a ``--no-auth`` server) may do everything.

=====================  ======  =========  ========  ======  =====  =====
action                 viewer  annotator  reviewer  editor  admin  scope
=====================  ======  =========  ========  ======  =====  =====
read                   x       x          x         x       x      read
labels.edit_assigned           x          x         x       x      write
review.decide                             x         x       x      write
tags.review                               x         x       x      write
result_sets.edit                          x         x       x      write
dataset.create *                                    x       x      write
dataset.edit                                        x       x      write
tags.edit                                           x       x      write
tags.apply                                          x       x      write
collections.edit                                    x       x      write
ontology.edit                                       x       x      write
labels.edit                                         x       x      write
labels.bulk                                         x       x      write
label_jobs.manage                                   x       x      write
history.undo                                        x       x      write
models.train                                        x       x      write
labels.edit_complete                                        x      admin
dataset.delete                                              x      admin
history.undo_user                                           x      admin
users.manage *                                              x      admin
=====================  ======  =========  ========  ======  =====  =====

``*``: a workspace action, decided by the workspace-wide role alone (a role on one dataset
does not make anyone an admin of the workspace; a token tied to one dataset cannot do them).
``labels.edit_assigned``: changing the labels of items of a label job given to the caller
(annotators label only those); ``labels.edit_complete``: changing labels of items whose review is
complete (the item has label changes in a submitted or closed job, all of them accepted or
rejected there, none pending), which only admins may.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

from tagscope.domain import Dataset, PermissionDeniedError
from tagscope.domain.access import Identity, Role, Scope

if TYPE_CHECKING:
    from tagscope.service.workspace import Workspace


class Action(StrEnum):
    READ = "read"
    LABELS_EDIT_ASSIGNED = "labels.edit_assigned"
    REVIEW_DECIDE = "review.decide"
    TAGS_REVIEW = "tags.review"
    RESULT_SETS_EDIT = "result_sets.edit"
    DATASET_CREATE = "dataset.create"
    DATASET_EDIT = "dataset.edit"  # import, embed, metadata, thumbnails
    TAGS_EDIT = "tags.edit"
    TAGS_APPLY = "tags.apply"
    COLLECTIONS_EDIT = "collections.edit"
    ONTOLOGY_EDIT = "ontology.edit"
    LABELS_EDIT = "labels.edit"
    LABELS_BULK = "labels.bulk"
    LABEL_JOBS_MANAGE = "label_jobs.manage"
    HISTORY_UNDO = "history.undo"
    MODELS_TRAIN = "models.train"  # train, stop, delete, thresholds, export
    LABELS_EDIT_COMPLETE = "labels.edit_complete"
    DATASET_DELETE = "dataset.delete"
    HISTORY_UNDO_USER = "history.undo_user"
    USERS_MANAGE = "users.manage"


_ALL = frozenset(Role)
_LABELLERS = frozenset({Role.ANNOTATOR, Role.REVIEWER, Role.EDITOR, Role.ADMIN})
_REVIEWERS = frozenset({Role.REVIEWER, Role.EDITOR, Role.ADMIN})
_EDITORS = frozenset({Role.EDITOR, Role.ADMIN})
_ADMINS = frozenset({Role.ADMIN})

TABLE: dict[Action, frozenset[Role]] = {
    Action.READ: _ALL,
    Action.LABELS_EDIT_ASSIGNED: _LABELLERS,
    Action.REVIEW_DECIDE: _REVIEWERS,
    Action.TAGS_REVIEW: _REVIEWERS,
    Action.RESULT_SETS_EDIT: _REVIEWERS,
    Action.DATASET_CREATE: _EDITORS,
    Action.DATASET_EDIT: _EDITORS,
    Action.TAGS_EDIT: _EDITORS,
    Action.TAGS_APPLY: _EDITORS,
    Action.COLLECTIONS_EDIT: _EDITORS,
    Action.ONTOLOGY_EDIT: _EDITORS,
    Action.LABELS_EDIT: _EDITORS,
    Action.LABELS_BULK: _EDITORS,
    Action.LABEL_JOBS_MANAGE: _EDITORS,
    Action.HISTORY_UNDO: _EDITORS,
    Action.MODELS_TRAIN: _EDITORS,
    Action.LABELS_EDIT_COMPLETE: _ADMINS,
    Action.DATASET_DELETE: _ADMINS,
    Action.HISTORY_UNDO_USER: _ADMINS,
    Action.USERS_MANAGE: _ADMINS,
}
"""Which roles may do each action (on the dataset it concerns)."""

WORKSPACE_ACTIONS = frozenset({Action.DATASET_CREATE, Action.USERS_MANAGE})
"""Actions on the workspace itself: only the workspace-wide role counts."""

_ADMIN_SCOPE = frozenset(
    {
        Action.LABELS_EDIT_COMPLETE,
        Action.DATASET_DELETE,
        Action.HISTORY_UNDO_USER,
        Action.USERS_MANAGE,
    }
)


def scope_needed(action: Action) -> Scope:
    """The least token scope the action needs."""
    if action is Action.READ:
        return Scope.READ
    return Scope.ADMIN if action in _ADMIN_SCOPE else Scope.WRITE


_SCOPE_RANK = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}


def role_on(identity: Identity, dataset_id: int | None) -> Role | None:
    """The caller's role on a dataset (None: it may not even see it); on the workspace when
    ``dataset_id`` is None."""
    if identity.is_owner:
        return Role.ADMIN
    if dataset_id is None:
        return None if identity.token_dataset is not None else identity.role
    if identity.token_dataset is not None and dataset_id != identity.token_dataset:
        return None
    return identity.dataset_roles.get(dataset_id, identity.role)


def allows(identity: Identity, action: Action, dataset_id: int | None = None) -> bool:
    """Whether the caller may do ``action`` on the dataset (the workspace when None)."""
    if identity.is_owner:
        return True
    if _SCOPE_RANK[identity.scope] < _SCOPE_RANK[scope_needed(action)]:
        return False
    role = role_on(identity, None if action in WORKSPACE_ACTIONS else dataset_id)
    return role is not None and role in TABLE[action]


def check(identity: Identity, action: Action, dataset: Dataset | None = None) -> None:
    """Raise :class:`PermissionDeniedError`, saying why, unless the caller may do ``action``."""
    dataset_id = dataset.id if dataset is not None else None
    if allows(identity, action, dataset_id):
        return
    raise PermissionDeniedError(denial(identity, action, dataset))


_PHRASES: dict[Action, str] = {
    Action.READ: "read",
    Action.LABELS_EDIT_ASSIGNED: "label the items of label jobs",
    Action.REVIEW_DECIDE: "decide reviews",
    Action.TAGS_REVIEW: "review tag decisions",
    Action.RESULT_SETS_EDIT: "save or delete result sets",
    Action.DATASET_CREATE: "create datasets",
    Action.DATASET_EDIT: "import or embed",
    Action.TAGS_EDIT: "edit tags",
    Action.TAGS_APPLY: "apply tag groups",
    Action.COLLECTIONS_EDIT: "edit collections",
    Action.ONTOLOGY_EDIT: "edit the ontology",
    Action.LABELS_EDIT: "edit labels",
    Action.LABELS_BULK: "bulk classify",
    Action.LABEL_JOBS_MANAGE: "manage label jobs",
    Action.HISTORY_UNDO: "undo changes",
    Action.MODELS_TRAIN: "train, stop or change models",
    Action.LABELS_EDIT_COMPLETE: "change items whose review is complete",
    Action.DATASET_DELETE: "delete datasets",
    Action.HISTORY_UNDO_USER: "undo all of a user's changes",
    Action.USERS_MANAGE: "manage users and tokens",
}
"""What each action is, for people (messages)."""


def denial(identity: Identity, action: Action, dataset: Dataset | None = None) -> str:
    """Why ``action`` is refused, for people: who, what, where, and what it needs."""
    workspace = action in WORKSPACE_ACTIONS or dataset is None
    where = "the workspace" if workspace else f"dataset {dataset.name!r}"  # type: ignore[union-attr]
    role = role_on(identity, None if workspace else dataset.id)  # type: ignore[union-attr]
    needed = " or ".join(r.value for r in Role if r in TABLE[action])
    what = _PHRASES[action] + ("" if action is Action.READ else f" ({action.value})")
    if role is not None and role in TABLE[action]:  # the role would do: the token's scope not
        return (
            f"{identity.name}'s token has scope {identity.scope.value}: {what} on {where} "
            f"needs a token of scope {scope_needed(action).value}"
        )
    has = f"{role.value} on {where}" if role is not None else f"no role on {where}"
    if role is None and identity.token_dataset is not None:  # the token's reach, not the user's
        return (
            f"{identity.name}'s token reaches one dataset only, not {where}: {what} there needs "
            "a token without --dataset, or one for that dataset"
        )
    if action is Action.READ and not workspace:  # any role reads: say how to get one
        return (
            f"{identity.name} ({has}) may not read: it needs a role there, viewer at least "
            f"(an admin gives one: tagscope users set-role {identity.name} viewer --dataset "
            f"{dataset.name})"  # type: ignore[union-attr]
        )
    return f"{identity.name} ({has}) may not {what}: it needs the role {needed}"


def readable_dataset_ids(identity: Identity, dataset_ids: Iterable[int]) -> frozenset[int] | None:
    """The datasets among ``dataset_ids`` the caller may read; None when it may read them all
    (the owner), so that callers can skip filtering."""
    if identity.is_owner:
        return None
    return frozenset(d for d in dataset_ids if allows(identity, Action.READ, d))


def job_visible(identity: Identity, dataset_id: int | None) -> bool:
    """Whether a job (the record of long work) can be seen: a dataset's by those who may read
    the dataset; one of no dataset (of the workspace) by the workspace's admins only."""
    if dataset_id is None:
        return role_on(identity, None) is Role.ADMIN
    return allows(identity, Action.READ, dataset_id)


def group_visible(
    identity: Identity, training_dataset_id: int, shareable: bool, dataset_id: int | None = None
) -> bool:
    """Whether a tag group can be seen (from ``dataset_id``, or anywhere when None): a secret
    group only from its training dataset, by those who may read it; a shareable one by anyone
    who may read the dataset it is seen from (or its training dataset)."""
    if dataset_id is not None:
        if not allows(identity, Action.READ, dataset_id):
            return False
        return shareable or dataset_id == training_dataset_id
    return allows(identity, Action.READ, training_dataset_id) or (
        shareable and (identity.is_owner or bool(identity.role) or bool(identity.dataset_roles))
    )


# -- helpers of the use cases ---------------------------------------------------------------


def dataset(ws: Workspace, action: Action, name: str) -> Dataset:
    """The dataset ``name``, once the caller may do ``action`` on it (else
    :class:`PermissionDeniedError`); an unknown name is a ``NotFoundError`` as before."""
    ds = ws.dataset(name)
    check(ws.identity, action, ds)
    return ds


def workspace(ws: Workspace, action: Action) -> None:
    """Check a workspace action (creating a dataset, managing users)."""
    check(ws.identity, action)


def account(ws: Workspace, user_id: int) -> None:
    """Check a change to one account's own things (its tokens): its user may, when signed in
    (a session, or a token of scope admin reaching every dataset: a narrower token cannot
    widen itself); anyone else needs users.manage."""
    me = ws.identity
    if me.user_id is not None and me.user_id == user_id:
        if me.scope is Scope.ADMIN and me.token_dataset is None:
            return
        raise PermissionDeniedError(
            f"{me.name}'s token is limited (scope {me.scope.value}"
            + (", one dataset" if me.token_dataset is not None else "")
            + "): managing its own tokens needs a session or a token of scope admin"
        )
    check(me, Action.USERS_MANAGE)


def _widest(role: Role) -> Scope:
    return max(
        (scope_needed(a) for a, roles in TABLE.items() if role in roles), key=_SCOPE_RANK.get
    )


def widest_scope(user: Identity, dataset_id: int | None = None) -> Scope | None:
    """The widest scope a token of ``user`` (an account's identity) may have, when it reaches
    only ``dataset_id`` or (None) every dataset the user has a role on: the widest its roles
    there need (admin for an admin, write for a role that may change anything, read for a
    viewer), or None when it has no role there at all. Across the workspace, admin needs the
    workspace-wide role admin (an admin of one dataset gets write)."""
    if dataset_id is not None:
        role = role_on(user, dataset_id)
        return None if role is None else _widest(role)
    roles = [r for r in (user.role, *user.dataset_roles.values()) if r is not None]
    if not roles:
        return None
    best = max((_widest(r) for r in roles), key=_SCOPE_RANK.get)
    return Scope.WRITE if best is Scope.ADMIN and user.role is not Role.ADMIN else best


def check_assigned(
    identity: Identity,
    dataset: Dataset,
    item_ids: Collection[int],
    assigned: Callable[[], Collection[int]],
    *,
    unless: Action = Action.LABELS_EDIT,
) -> None:
    """Refuse a change to the labels (or job state) of ``item_ids`` unless the caller may do
    ``unless`` on the dataset, or may do labels.edit_assigned and every item is one of
    ``assigned()`` (the items of open manual label jobs given to it; asked only then)."""
    if allows(identity, unless, dataset.id):
        return
    check(identity, Action.LABELS_EDIT_ASSIGNED, dataset)
    mine = set(assigned())
    others = sorted({int(i) for i in item_ids} - mine)
    if others:
        role = role_on(identity, dataset.id)
        raise PermissionDeniedError(
            f"{identity.name} ({role.value if role else 'no role'} on dataset {dataset.name!r}) "
            f"may change only the items of label jobs given to it, not item(s) {_ids(others)}"
        )


def check_complete(
    identity: Identity,
    dataset: Dataset,
    item_ids: Collection[int] | None,
    complete: Callable[[], Collection[int]],
) -> None:
    """Refuse a change to the labels (or the review) of items whose review is complete: those of
    ``item_ids`` (None: any) among ``complete()``, asked only when the caller may not do
    labels.edit_complete."""
    if allows(identity, Action.LABELS_EDIT_COMPLETE, dataset.id):
        return
    done = set(complete())
    done = sorted(done if item_ids is None else {int(i) for i in item_ids} & done)
    if done:
        raise PermissionDeniedError(
            f"the review of item(s) {_ids(done)} of dataset {dataset.name!r} is complete: "
            f"{denial(identity, Action.LABELS_EDIT_COMPLETE, dataset)}"
        )


def _ids(ids: list[int], shown: int = 10) -> str:
    return ", ".join(map(str, ids[:shown])) + (" ..." if len(ids) > shown else "")


__all__ = [
    "TABLE",
    "WORKSPACE_ACTIONS",
    "Action",
    "account",
    "allows",
    "check",
    "check_assigned",
    "check_complete",
    "dataset",
    "denial",
    "group_visible",
    "job_visible",
    "readable_dataset_ids",
    "role_on",
    "scope_needed",
    "widest_scope",
    "workspace",
]
