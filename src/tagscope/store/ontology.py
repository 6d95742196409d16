"""Repository of ontologies (migration ``0009``): a dataset's classes and questions.

For the change log (:mod:`tagscope.service.history`, entity ``ontology_class``, key the class
id) a class is one record under item id :data:`RECORD`: ``{dataset_id, name, color, hotkey}``,
``None`` once deleted. :meth:`OntologyCatalog.restore` puts it back, and a name put back renames
every label of the class too (their ``name`` and ``key``), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tagscope.domain import (
    AlreadyExistsError,
    Label,
    LabelKind,
    LabelSource,
    NotFoundError,
    ValidationError,
)
from tagscope.domain.changes import RECORD_ITSELF
from tagscope.domain.ontology import OntologyClass, Question, QuestionKind, palette_colors
from tagscope.store.catalog import Catalog, label_key
from tagscope.store.label_schema import OntologyClassRow, OntologyQuestionRow
from tagscope.store.schema import DatasetRow, LabelRow

RECORD = RECORD_ITSELF  # the item id of a class's record in the change log
_CHUNK = 500
_LISTED = 20  # names an error message lists at most
State = dict[str, Any]


def _class(row: OntologyClassRow, n_labels: int | None = None) -> OntologyClass:
    return OntologyClass(row.id, row.dataset_id, row.name, row.color, row.hotkey, n_labels)


def _question(row: OntologyQuestionRow) -> Question:
    return Question(
        row.id, row.dataset_id, row.name, QuestionKind(row.kind), tuple(row.options), row.required
    )


def _record(row: OntologyClassRow) -> State:
    return {
        "dataset_id": row.dataset_id,
        "name": row.name,
        "color": row.color,
        "hotkey": row.hotkey,
    }


def _listed(names: Iterable[str]) -> str:
    names = sorted(names)
    return ", ".join(names[:_LISTED]) + (" ..." if len(names) > _LISTED else "") or "none"


class OntologyCatalog:
    """Classes and questions in the catalog database; each method is one transaction, or
    joins the open unit of work (:meth:`Catalog.transaction`)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- classes --------------------------------------------------------------------------
    def list_classes(self, dataset_id: int) -> list[OntologyClass]:
        """The dataset's classes by name, each with the number of labels referring to it."""
        counts = (
            select(LabelRow.class_id, func.count().label("n"))
            .where(LabelRow.class_id.is_not(None))
            .group_by(LabelRow.class_id)
            .subquery()
        )
        stmt = (
            select(OntologyClassRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.class_id == OntologyClassRow.id)
            .where(OntologyClassRow.dataset_id == dataset_id)
            .order_by(OntologyClassRow.name)
        )
        with self.catalog.session() as s:
            return [_class(row, int(n)) for row, n in s.execute(stmt)]

    def get_class(self, dataset_id: int, name: str) -> OntologyClass:
        """The class ``name`` with its number of labels; NotFoundError lists the classes."""
        with self.catalog.session() as s:
            row = self._row(s, dataset_id, name)
            return _class(row, self._n_labels(s, row.id))

    def _row(self, s: Session, dataset_id: int, name: str) -> OntologyClassRow:
        row = s.scalars(
            select(OntologyClassRow).where(
                OntologyClassRow.dataset_id == dataset_id, OntologyClassRow.name == name
            )
        ).one_or_none()
        if row is None:
            names = s.scalars(
                select(OntologyClassRow.name).where(OntologyClassRow.dataset_id == dataset_id)
            )
            raise NotFoundError(
                f"the dataset has no class named {name!r} (classes: {_listed(names)})"
            )
        return row

    def _n_labels(self, s: Session, class_id: int) -> int:
        stmt = select(func.count()).where(LabelRow.class_id == class_id)
        return int(s.execute(stmt).scalar_one())

    def add_class(
        self, dataset_id: int, name: str, *, color: str | None = None, hotkey: str | None = None
    ) -> OntologyClass:
        """A new class (``color`` None: the first palette colour the dataset does not use);
        a name or a hotkey the dataset has already is refused."""
        with self.catalog.session() as s:
            self._refuse_taken(s, dataset_id, name, hotkey)
            if color is None:
                color = palette_colors(self._colors(s, dataset_id), 1)[0]
            row = OntologyClassRow(dataset_id=dataset_id, name=name, color=color, hotkey=hotkey)
            s.add(row)
            try:
                s.flush()
            except IntegrityError as exc:  # created meanwhile by another transaction
                raise AlreadyExistsError(f"the dataset has a class named {name!r} already") from exc
            return _class(row, 0)

    def class_ids(
        self, dataset_id: int, names: Iterable[str], *, create: bool = True
    ) -> dict[str, int]:
        """Name -> class id for each of ``names`` (empty names left out); with ``create``,
        classes missing are created first, with palette colours none of the dataset's classes
        has (labels of an import create their classes); without, missing names are left out."""
        wanted = sorted({n for n in names if n})
        found: dict[str, int] = {}
        with self.catalog.session() as s:
            self._find(s, dataset_id, wanted, found)
            missing = [n for n in wanted if n not in found]
            if not (missing and create):
                return found
            colors = palette_colors(self._colors(s, dataset_id), len(missing))
            dialect = sqlite if s.get_bind().dialect.name == "sqlite" else postgresql
            # ON CONFLICT: a class another transaction created meanwhile is found just after.
            stmt = dialect.insert(OntologyClassRow.__table__).on_conflict_do_nothing()
            rows = [
                {"dataset_id": dataset_id, "name": n, "color": color, "hotkey": None}
                for n, color in zip(missing, colors, strict=True)
            ]
            for i in range(0, len(rows), _CHUNK):
                s.execute(stmt, rows[i : i + _CHUNK])
            self._find(s, dataset_id, missing, found)
        return found

    def _find(self, s: Session, dataset_id: int, names: Sequence[str], out: dict[str, int]) -> None:
        for i in range(0, len(names), _CHUNK):
            stmt = select(OntologyClassRow.name, OntologyClassRow.id).where(
                OntologyClassRow.dataset_id == dataset_id,
                OntologyClassRow.name.in_(names[i : i + _CHUNK]),
            )
            out.update({name: id_ for name, id_ in s.execute(stmt)})

    def _colors(self, s: Session, dataset_id: int) -> set[str]:
        stmt = select(OntologyClassRow.color).where(OntologyClassRow.dataset_id == dataset_id)
        return set(s.scalars(stmt))

    def _refuse_taken(
        self,
        s: Session,
        dataset_id: int,
        name: str,
        hotkey: str | None,
        class_id: int | None = None,
    ) -> None:
        """Refuse a name or hotkey another class of the dataset (not ``class_id``) has."""
        others = select(OntologyClassRow).where(
            OntologyClassRow.dataset_id == dataset_id, OntologyClassRow.id != (class_id or 0)
        )
        taken = s.scalars(others.where(OntologyClassRow.name == name)).first()
        if taken is not None:
            raise AlreadyExistsError(f"the dataset has a class named {name!r} already")
        if hotkey is not None:
            holder = s.scalars(others.where(OntologyClassRow.hotkey == hotkey)).first()
            if holder is not None:
                raise ValidationError(
                    f"hotkey {hotkey!r} is class {holder.name!r}'s already", field="hotkey"
                )

    # -- questions ------------------------------------------------------------------------
    def list_questions(self, dataset_id: int) -> list[Question]:
        """The dataset's questions, in the order they were added."""
        stmt = (
            select(OntologyQuestionRow)
            .where(OntologyQuestionRow.dataset_id == dataset_id)
            .order_by(OntologyQuestionRow.id)
        )
        with self.catalog.session() as s:
            return [_question(row) for row in s.scalars(stmt)]

    def add_question(
        self,
        dataset_id: int,
        name: str,
        kind: QuestionKind,
        options: Sequence[str] = (),
        required: bool = False,
    ) -> Question:
        """A new question; a name the dataset has already is refused."""
        with self.catalog.session() as s:
            taken = s.scalars(
                select(OntologyQuestionRow.id).where(
                    OntologyQuestionRow.dataset_id == dataset_id, OntologyQuestionRow.name == name
                )
            ).first()
            if taken is not None:
                raise AlreadyExistsError(f"the dataset has a question named {name!r} already")
            row = OntologyQuestionRow(
                dataset_id=dataset_id,
                name=name,
                kind=str(kind),
                options=list(options),
                required=required,
            )
            s.add(row)
            try:
                s.flush()
            except IntegrityError as exc:
                raise AlreadyExistsError(
                    f"the dataset has a question named {name!r} already"
                ) from exc
            return _question(row)

    def delete_question(self, dataset_id: int, name: str) -> None:
        """Delete a question (answers already given stay in the labels' attributes)."""
        with self.catalog.session() as s:
            gone = s.execute(
                delete(OntologyQuestionRow)
                .where(
                    OntologyQuestionRow.dataset_id == dataset_id, OntologyQuestionRow.name == name
                )
                .returning(OntologyQuestionRow.id)
            ).all()
            if not gone:
                names = s.scalars(
                    select(OntologyQuestionRow.name).where(
                        OntologyQuestionRow.dataset_id == dataset_id
                    )
                )
                raise NotFoundError(
                    f"the dataset has no question named {name!r} (questions: {_listed(names)})"
                )

    # -- records as the change log sees them ----------------------------------------------
    def lock(self, class_id: int) -> None:
        """Lock the class's row, where it exists, until the transaction ends (PostgreSQL;
        SQLite's unit of work holds the write lock already)."""
        with self.catalog.session() as s:
            s.get(OntologyClassRow, class_id, with_for_update=True)

    def describe(self, class_id: int) -> str:
        """The class as an error message names it."""
        with self.catalog.session() as s:
            row = s.get(OntologyClassRow, class_id)
            return f"class {class_id}, deleted since" if row is None else f"class {row.name!r}"

    def states(self, class_id: int, item_ids: Sequence[int] = (RECORD,)) -> dict[int, State]:
        """:data:`RECORD` -> the class's record, when asked for and the class exists."""
        if RECORD not in item_ids:
            return {}
        with self.catalog.session() as s:
            row = s.get(OntologyClassRow, class_id)
            return {} if row is None else {RECORD: _record(row)}

    def restore(self, class_id: int, states: Mapping[int, State | None]) -> None:
        """Put the class's record back as ``states`` says (``None``: no such class). A new
        name renames the class's labels too, and the dataset's ``revision`` goes up (labels
        edited in place: the SQL engine's copy fetches the dataset again). Deleting a class
        labels refer to is refused, naming it."""
        if RECORD not in states:
            return
        record = states[RECORD]
        with self.catalog.session() as s:
            row = s.get(OntologyClassRow, class_id)
            if record is None:
                if row is not None:
                    self._delete(s, row)
                return
            name, hotkey = record["name"], record["hotkey"]
            self._refuse_taken(s, record["dataset_id"], name, hotkey, class_id)
            if row is None:
                row = OntologyClassRow(id=class_id, **record)
                s.add(row)
                s.flush()
                return
            renamed = row.name != name
            row.name, row.color, row.hotkey = name, record["color"], hotkey
            s.flush()
            if renamed:
                self._rename_labels(s, row)

    def _delete(self, s: Session, row: OntologyClassRow) -> None:
        n = self._n_labels(s, row.id)
        if n:
            raise ValidationError(
                f"class {row.name!r} is used by {n} label(s): delete or relabel them first",
                field="name",
            )
        s.delete(row)
        s.flush()

    def _rename_labels(self, s: Session, row: OntologyClassRow) -> None:
        """Give the class's labels its name, and the key that name makes (re-importing them
        then adds nothing)."""
        t = LabelRow.__table__
        labels = s.execute(
            select(t.c.id, t.c.kind, t.c.source, t.c.geometry).where(t.c.class_id == row.id)
        ).all()
        values = [
            {
                "_id": id_,
                "_key": label_key(
                    Label(LabelKind(kind), row.name, LabelSource(source), geometry=geometry)
                ),
            }
            for id_, kind, source, geometry in labels
        ]
        stmt = (
            update(t).where(t.c.id == bindparam("_id")).values(name=row.name, key=bindparam("_key"))
        )
        try:
            for i in range(0, len(values), _CHUNK):
                s.execute(stmt, values[i : i + _CHUNK])
        except IntegrityError as exc:  # an item has the same label under the new name
            raise ValidationError(
                f"renaming the class to {row.name!r} would give an item two identical labels "
                f"(it has one named {row.name!r} of no class already); delete one of them first",
                field="name",
            ) from exc
        s.execute(
            update(DatasetRow)
            .where(DatasetRow.id == row.dataset_id)
            .values(revision=DatasetRow.revision + 1)
        )


__all__ = ["RECORD", "OntologyCatalog"]
