"""A dataset's ontology: classes (name, colour, hotkey) and classification questions (radio,
checklist, free text).

Adding, changing and deleting a class is one change-set of entity ``ontology_class`` (key: the
class id), written in its unit of work: renaming a class renames every label of it in the same
change-set, and ``history.undo`` puts the old name back on all of them. Questions are checked
by :func:`check_answers` wherever a classification gets answers (bulk classify, labels).

Examples
--------
>>> add_class(ws, "coco", "cat", hotkey="1").color                      # doctest: +SKIP
'#e6194b'
>>> update_class(ws, "coco", "cat", new_name="feline").change_set       # doctest: +SKIP
14
>>> check_answers(ws, ds.id, {"pose": "sitting"})                       # doctest: +SKIP
{'pose': 'sitting'}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tagscope.domain import AlreadyExistsError, ValidationError
from tagscope.domain import ontology as rules
from tagscope.domain.changes import Change
from tagscope.domain.ontology import Ontology, OntologyClass, Question, QuestionKind
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.ontology import RECORD, OntologyCatalog
from tagscope.store.retry import retrying
from tagscope.store.uow import UnitOfWork

ENTITY = "ontology_class"


@dataclass(frozen=True, slots=True)
class ClassEdit:
    """A class as an edit left it, and the change-set that recorded it (None: nothing
    changed)."""

    ontology_class: OntologyClass
    change_set: int | None


def ontology(ws: Workspace, dataset: str) -> Ontology:
    """The dataset's classes (by name, with their number of labels) and questions."""
    repo = OntologyCatalog(ws.catalog)
    ds = policy.dataset(ws, Action.READ, dataset)
    return Ontology(tuple(repo.list_classes(ds.id)), tuple(repo.list_questions(ds.id)))


@retrying
def add_class(
    ws: Workspace,
    dataset: str,
    name: str,
    color: str | None = None,
    hotkey: str | None = None,
) -> OntologyClass:
    """A new class; ``color`` (``#rrggbb``) defaults to a palette colour no other class of the
    dataset has, ``hotkey`` is one digit or letter.

    Raises
    ------
    AlreadyExistsError
        The dataset has a class of that name.
    ValidationError
        A bad name, colour or hotkey, or a hotkey another class has (named).
    """
    name = rules.validate_name(name)
    color = rules.validate_color(color) if color else None
    key = rules.validate_hotkey(hotkey)
    ds = policy.dataset(ws, Action.ONTOLOGY_EDIT, dataset)
    with ws.uow() as uow:
        repo = OntologyCatalog(uow.catalog)
        made = repo.add_class(ds.id, name, color=color, hotkey=key)
        after = repo.states(made.id)[RECORD]
        change = Change(RECORD, ENTITY, str(made.id), None, after)
        uow.changes.record(
            ds.id, uow.actor, "add_class", [change], params={"name": name}, target=_target(name)
        )
    return made


@retrying
def update_class(
    ws: Workspace,
    dataset: str,
    name: str,
    *,
    new_name: str | None = None,
    color: str | None = None,
    hotkey: str | None = None,
) -> ClassEdit:
    """Rename a class (every label of it too), or change its colour or hotkey (``""``: none);
    one change-set, undone by ``history.undo``. ``None`` leaves a field as it is.

    Raises
    ------
    AlreadyExistsError
        ``new_name`` is another class's (both named).
    NotFoundError
        No such class (the classes listed).
    """
    ds = policy.dataset(ws, Action.ONTOLOGY_EDIT, dataset)
    with ws.uow() as uow:
        repo = OntologyCatalog(uow.catalog)
        current = repo.get_class(ds.id, name.strip())
        repo.lock(current.id)
        before = repo.states(current.id)[RECORD]
        after = dict(before)
        if new_name is not None:
            after["name"] = rules.validate_name(new_name)
            if after["name"] != current.name and repo.class_ids(
                ds.id, [after["name"]], create=False
            ):
                raise AlreadyExistsError(
                    f"cannot rename class {current.name!r} to {after['name']!r}: the dataset "
                    f"has a class named {after['name']!r} already"
                )
        if color is not None:
            after["color"] = rules.validate_color(color)
        if hotkey is not None:
            after["hotkey"] = rules.validate_hotkey(hotkey)
        renamed = after["name"] != before["name"]
        params = {"name": current.name, "new_name": new_name, "color": color, "hotkey": hotkey}
        action = "rename_class" if renamed else "update_class"
        change_set = _write(uow, ds.id, current.id, before, after, action, params)
        edited = repo.get_class(ds.id, after["name"])
    return ClassEdit(edited, change_set)


@retrying
def delete_class(ws: Workspace, dataset: str, name: str) -> int | None:
    """Delete a class no label refers to; return the change-set (undo brings it back).

    Raises ``ValidationError`` while labels use it (how many), ``NotFoundError`` when there
    is no such class."""
    ds = policy.dataset(ws, Action.ONTOLOGY_EDIT, dataset)
    with ws.uow() as uow:
        repo = OntologyCatalog(uow.catalog)
        current = repo.get_class(ds.id, name.strip())
        repo.lock(current.id)
        before = repo.states(current.id)[RECORD]
        return _write(uow, ds.id, current.id, before, None, "delete_class", {"name": current.name})


@retrying
def add_question(
    ws: Workspace,
    dataset: str,
    name: str,
    kind: QuestionKind | str,
    options: Sequence[str] = (),
    required: bool = False,
) -> Question:
    """A new classification question: ``radio`` (one of ``options``), ``checklist`` (any of
    them) or ``text`` (free text, no options); ``required``: every answer set must answer it.

    Raises ``ValidationError`` (a bad kind, name or options) or ``AlreadyExistsError``."""
    name = rules.validate_name(name, "question")
    try:
        kind = QuestionKind(str(kind).strip().lower())
    except ValueError:
        kinds = ", ".join(k.value for k in QuestionKind)
        raise ValidationError(f"a question is one of {kinds}, got {kind!r}", field="kind") from None
    clean = rules.validate_options(kind, options)
    ds = policy.dataset(ws, Action.ONTOLOGY_EDIT, dataset)
    with ws.uow() as uow:
        return OntologyCatalog(uow.catalog).add_question(ds.id, name, kind, clean, required)


@retrying
def delete_question(ws: Workspace, dataset: str, name: str) -> None:
    """Delete a question; answers given already stay in the labels' attributes."""
    ds = policy.dataset(ws, Action.ONTOLOGY_EDIT, dataset)
    with ws.uow() as uow:
        OntologyCatalog(uow.catalog).delete_question(ds.id, name.strip())


def check_answers(
    ws_or_uow: Workspace | UnitOfWork, dataset_id: int, answers: Mapping[str, Any]
) -> dict[str, Any]:
    """The answers checked against the dataset's questions and normalised (see
    :func:`tagscope.domain.ontology.check_answers`): ``ValidationError`` (``field="answers"``)
    names the question and the options it allows."""
    questions = OntologyCatalog(ws_or_uow.catalog).list_questions(dataset_id)
    return rules.check_answers(questions, answers)


def _target(name: str) -> dict[str, Any]:
    return {"class": name}


def _write(
    uow: UnitOfWork,
    dataset_id: int,
    class_id: int,
    before: dict[str, Any],
    after: dict[str, Any] | None,
    action: str,
    params: dict[str, Any],
) -> int | None:
    """Put the class's record as ``after`` says and write the change-set; None when nothing
    changed."""
    if after == before:
        return None
    repo = OntologyCatalog(uow.catalog)
    repo.restore(class_id, {RECORD: after})
    now = repo.states(class_id).get(RECORD)
    change = Change(RECORD, ENTITY, str(class_id), before, now)
    made = uow.changes.record(
        dataset_id, uow.actor, action, [change], params=params, target=_target(before["name"])
    )
    return made.id


__all__ = [
    "ENTITY",
    "ClassEdit",
    "add_class",
    "add_question",
    "check_answers",
    "delete_class",
    "delete_question",
    "ontology",
    "update_class",
]
