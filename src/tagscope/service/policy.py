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
labels.edit_complete                                        x      admin
dataset.delete                                              x      admin
history.undo_user                                           x      admin
users.manage *                                              x      admin
=====================  ======  =========  ========  ======  =====  =====

``*``: a workspace action, decided by the workspace-wide role alone (a role on one dataset
does not make anyone an admin of the workspace; a token tied to one dataset cannot do them).
``labels.edit_assigned``: changing the labels of items of a label job given to the caller
(annotators label only those); ``labels.edit_complete``: changing labels of items whose review is
complete (every label change of a submitted job decided), which only admins may.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def denial(identity: Identity, action: Action, dataset: Dataset | None = None) -> str:
    """Why ``action`` is refused, for people: who, what, where, and what it needs."""
    workspace = action in WORKSPACE_ACTIONS or dataset is None
    where = "the workspace" if workspace else f"dataset {dataset.name!r}"  # type: ignore[union-attr]
    role = role_on(identity, None if workspace else dataset.id)  # type: ignore[union-attr]
    needed = " or ".join(r.value for r in Role if r in TABLE[action])
    what = action.value.replace("_", " ")
    if role is not None and role in TABLE[action]:  # the role would do: the token's scope not
        return (
            f"{identity.name}'s token has scope {identity.scope.value}: {what} on {where} "
            f"needs a token of scope {scope_needed(action).value}"
        )
    has = f"{role.value} on {where}" if role is not None else f"no role on {where}"
    return f"{identity.name} ({has}) may not {what}: it needs the role {needed}"


def readable_dataset_ids(identity: Identity, dataset_ids: Iterable[int]) -> frozenset[int] | None:
    """The datasets among ``dataset_ids`` the caller may read; None when it may read them all
    (the owner), so that callers can skip filtering."""
    if identity.is_owner:
        return None
    return frozenset(d for d in dataset_ids if allows(identity, Action.READ, d))


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


__all__ = [
    "TABLE",
    "WORKSPACE_ACTIONS",
    "Action",
    "allows",
    "check",
    "dataset",
    "denial",
    "group_visible",
    "readable_dataset_ids",
    "role_on",
    "scope_needed",
    "workspace",
]
