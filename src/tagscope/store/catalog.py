"""The catalog: datasets, items, labels, embedding spaces and jobs in a relational database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any, Literal

from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tagscope.domain import (
    AlreadyExistsError,
    Dataset,
    Item,
    Job,
    JobStatus,
    Label,
    LabelKind,
    LabelSource,
    MediaInfo,
    Modality,
    NewItem,
    NotFoundError,
    validate_dataset_name,
)
from tagscope.domain.geometry import label_area
from tagscope.store.database import make_engine, unit_of_work_engine, upgrade
from tagscope.store.retry import (
    TurnTaken,
    in_retrying_call,
    is_rerun,
    run_retrying,
    unit_of_work_scope,
)
from tagscope.store.schema import DatasetRow, EmbeddingSpaceRow, ItemRow, JobRow, LabelRow

# SQLite caps bound parameters per statement; 500 rows x 13 columns stays far below.
_CHUNK = 500
# The PostgreSQL advisory lock of units of work: shared by those running side by side,
# exclusive for one running alone (Catalog._turn). A constant key: one per database.
_TURNS = 0x7461_6773_636F_7065 >> 1  # "tagscope", as a positive bigint


def label_key(label: Label) -> str:
    """A stable digest of what makes a label distinct, so re-importing it adds nothing."""
    blob = json.dumps(
        [label.kind, label.name, label.source, label.geometry], sort_keys=True, default=str
    )
    return hashlib.sha1(blob.encode()).hexdigest()


def _item(row: ItemRow) -> Item:
    media = None
    if row.content_hash is not None:
        media = MediaInfo(
            size=row.size or 0,
            width=row.width or 0,
            height=row.height or 0,
            format=row.format or "",
            content_hash=row.content_hash,
        )
    return Item(
        id=row.id,
        dataset_id=row.dataset_id,
        path=row.path,
        modality=Modality(row.modality),
        media=media,
        text=row.text,
        split=row.split,
        metadata=dict(row.meta or {}),
        mtime_ns=row.mtime_ns,
    )


def label_of(row: Any) -> Label:
    """The label of a ``labels`` row (an ORM row or a Core one: the same names)."""
    return Label(
        kind=LabelKind(row.kind),
        name=row.name,
        source=LabelSource(row.source),
        is_main=row.is_main,
        score=row.score,
        geometry=row.geometry,
        attributes=dict(row.attributes or {}),
        id=row.id,
        class_id=row.class_id,
        author=row.author,
        created_at=row.created_at,
        model=row.model,
        area=row.area,
    )


def _share_turns(session: Session) -> None:
    """Hold the units of work's lock shared, as the transaction's first statement (its data
    are read as of then). When one runs alone, a unit of work that can run again does so, alone
    after it, instead of waiting here and reading what that one is changing."""
    turns = {"k": _TURNS}
    if not in_retrying_call():
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), turns)
        return
    if not session.execute(text("SELECT pg_try_advisory_xact_lock_shared(:k)"), turns).scalar():
        raise TurnTaken("a change runs alone: this one runs after it")


def _job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        status=JobStatus(row.status),
        dataset_id=row.dataset_id,
        n_done=row.n_done,
        n_total=row.n_total,
        params=dict(row.params or {}),
        result=dict(row.result or {}),
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class Catalog:
    """Repository over the catalog database; each method is one transaction, or joins the
    enclosing :meth:`transaction` (a unit of work) when one is open in this thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._uow_sessions = sessionmaker(unit_of_work_engine(engine), expire_on_commit=False)
        # The open unit of work's session, per thread and task: other threads keep their own.
        self._ambient: ContextVar[Session | None] = ContextVar(f"catalog_{id(self)}", default=None)
        # Whether this thread holds the units of work's lock exclusive (see _turn).
        self._alone: ContextVar[bool] = ContextVar(f"catalog_alone_{id(self)}", default=False)

    @classmethod
    def connect(cls, url: str) -> Catalog:
        engine = make_engine(url)
        upgrade(engine)
        return cls(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session: the open transaction's (flushed at the end of the block, so that a
        broken constraint raises where the method that broke it can name it), else its own."""
        outer = self._ambient.get()
        if outer is not None:
            yield outer
            outer.flush()
            return
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction that every method of this catalog (and of repositories over it)
        called inside the block joins: all of it commits at the end, or none on an exception.

        A nested ``transaction`` joins the outer one. Callbacks added with :meth:`after_commit`
        run once the outermost one has committed.

        On PostgreSQL it runs SERIALIZABLE: when a concurrent transaction changed what it read,
        it fails (a serialization failure) instead of committing over that change. Open it in
        a function decorated with :func:`tagscope.store.retry.retrying`, which runs the whole
        function again.
        """
        outer = self._ambient.get()
        if outer is not None:
            yield outer
            return
        with unit_of_work_scope(), self._turn() as alone, self._uow_sessions.begin() as session:
            if self.engine.dialect.name == "sqlite":
                # Take the write lock first: what the unit of work reads (a record's value
                # before its change) cannot change under it, and no upgrade to writing fails.
                session.execute(text("BEGIN IMMEDIATE"))
            elif not alone:
                _share_turns(session)
            token = self._ambient.set(session)
            try:
                yield session
            finally:
                self._ambient.reset(token)
        for callback in session.info.pop("after_commit", []):
            callback()

    @contextmanager
    def _turn(self) -> Iterator[bool]:
        """Whether the unit of work about to begin runs alone. On PostgreSQL units of work run
        side by side (each holds the lock :data:`_TURNS` shared), and one that the database
        refused for a concurrent one (a re-run of :func:`~tagscope.store.retry.run_retrying`)
        runs alone: it takes the lock exclusive, on a connection of its own, before its
        transaction begins, so it waits for those under way, no other starts, and what it reads
        cannot change under it. A few writers at once run side by side; many on the same records
        (a team labelling one dataset) fall back to one at a time instead of refusing each other
        again and again."""
        if self.engine.dialect.name != "postgresql" or not is_rerun() or self._alone.get():
            yield self._alone.get()
            return
        with self.engine.connect() as conn:  # its rollback at the end lets the lock go
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _TURNS})
            token = self._alone.set(True)  # a unit of work opened inside does not wait on it
            try:
                yield True
            finally:
                self._alone.reset(token)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after the open transaction commits (at once when none is open)."""
        outer = self._ambient.get()
        if outer is None:
            callback()
            return
        outer.info.setdefault("after_commit", []).append(callback)

    def _insert(self, table: Any) -> Any:
        """An INSERT that skips rows breaking a unique constraint (re-imports add nothing)."""
        dialect = sqlite if self.engine.dialect.name == "sqlite" else postgresql
        return dialect.insert(table).on_conflict_do_nothing()

    # -- datasets -------------------------------------------------------------------------
    def create_dataset(self, name: str, description: str = "") -> Dataset:
        validate_dataset_name(name)
        try:
            with self.session() as s:
                row = DatasetRow(name=name, description=description)
                s.add(row)
                s.flush()
                return Dataset(row.id, row.name, row.description, row.created_at, 0)
        except IntegrityError as exc:
            raise AlreadyExistsError(f"dataset {name!r} already exists") from exc

    def list_datasets(self) -> list[Dataset]:
        counts = (
            select(ItemRow.dataset_id, func.count().label("n"))
            .group_by(ItemRow.dataset_id)
            .subquery()
        )
        stmt = (
            select(DatasetRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.dataset_id == DatasetRow.id)
            .order_by(DatasetRow.name)
        )
        with self.session() as s:
            return [
                Dataset(r.id, r.name, r.description, r.created_at, n) for r, n in s.execute(stmt)
            ]

    def get_dataset(self, name: str) -> Dataset:
        """The dataset ``name``, counting only its own items."""
        with self.session() as s:
            row = s.scalars(select(DatasetRow).where(DatasetRow.name == name)).one_or_none()
            if row is None:
                raise NotFoundError(f"no dataset named {name!r}")
            n = s.execute(select(func.count()).where(ItemRow.dataset_id == row.id)).scalar_one()
            return Dataset(row.id, row.name, row.description, row.created_at, n)

    def delete_dataset(self, dataset_id: int) -> None:
        with self.session() as s:
            s.execute(delete(DatasetRow).where(DatasetRow.id == dataset_id))

    # -- items and labels -----------------------------------------------------------------
    def existing_paths(self, dataset_id: int, paths: Sequence[str]) -> dict[str, int]:
        """Map each of ``paths`` already in the dataset to its item id."""
        found: dict[str, int] = {}
        with self.session() as s:
            for i in range(0, len(paths), _CHUNK):
                stmt = select(ItemRow.path, ItemRow.id).where(
                    ItemRow.dataset_id == dataset_id, ItemRow.path.in_(paths[i : i + _CHUNK])
                )
                found.update({p: i for p, i in s.execute(stmt)})
        return found

    def add_items(self, dataset_id: int, items: Sequence[NewItem]) -> tuple[int, int, int]:
        """Insert new items and their labels; return (added, already there, labels added).

        Items are keyed by path, labels by :func:`label_key`: running the same import twice
        changes nothing. Labels of items already there are still added when new.
        """
        paths = [it.path for it in items]
        before = self.existing_paths(dataset_id, paths)
        rows = [
            {
                "dataset_id": dataset_id,
                "path": it.path,
                "modality": str(it.modality),
                "size": it.media.size if it.media else None,
                "width": it.media.width if it.media else None,
                "height": it.media.height if it.media else None,
                "format": it.media.format if it.media else None,
                "content_hash": it.media.content_hash if it.media else None,
                "mtime_ns": it.mtime_ns,
                "text": it.text,
                "split": it.split,
                "metadata": it.metadata,
            }
            for it in items
            if it.path not in before
        ]
        ids = dict(before)
        stmt = self._insert(ItemRow.__table__).returning(ItemRow.path, ItemRow.id)
        with self.session() as s:
            for i in range(0, len(rows), _CHUNK):
                ids.update({p: i for p, i in s.execute(stmt, rows[i : i + _CHUNK])})
        n_added = len(ids) - len(before)
        # A path another process inserted meanwhile was skipped by ON CONFLICT: look it up.
        racing = [p for p in paths if p not in ids]
        if racing:
            ids.update(self.existing_paths(dataset_id, racing))
        n_labels = self.add_labels((ids[it.path], lab) for it in items for lab in it.labels)
        return n_added, len(set(paths)) - n_added, n_labels

    def add_labels(self, labels: Iterable[tuple[int, Label]]) -> int:
        """Insert (item id, label) pairs not already there; return how many were new."""
        return run_retrying(partial(self._add_labels, list(labels)), "the labels")

    def _add_labels(self, labels: list[tuple[int, Label]]) -> int:
        rows = [
            {
                "item_id": item_id,
                "key": label_key(lab),
                "kind": str(lab.kind),
                "name": lab.name,
                "source": str(lab.source),
                "is_main": lab.is_main,
                "score": lab.score,
                "geometry": lab.geometry,
                "attributes": lab.attributes,
                "model": lab.model,
                "area": label_area(lab.kind, lab.geometry),
            }
            for item_id, lab in labels
        ]
        n = 0
        with self.transaction() as s:  # the classes it creates commit with the labels
            self._set_class_ids(rows)
            for i in range(0, len(rows), _CHUNK):
                stmt = self._insert(LabelRow.__table__).returning(LabelRow.id)
                # RETURNING counts what was really inserted (executemany's rowcount is -1).
                n += len(s.execute(stmt, rows[i : i + _CHUNK]).all())
        return n

    def _set_class_ids(self, rows: list[dict[str, Any]]) -> None:
        """Give each named label row the id of its name's class in its item's dataset's
        ontology, created when missing (the labels of an import create their classes)."""
        from tagscope.store.ontology import OntologyCatalog  # late: it imports this module

        item_ids = sorted({r["item_id"] for r in rows if r["name"]})
        dataset_of: dict[int, int] = {}
        with self.session() as s:
            for i in range(0, len(item_ids), _CHUNK):
                stmt = select(ItemRow.id, ItemRow.dataset_id).where(
                    ItemRow.id.in_(item_ids[i : i + _CHUNK])
                )
                dataset_of.update({item: ds for item, ds in s.execute(stmt)})
        names: dict[int, set[str]] = {}
        for r in rows:
            if r["name"] and r["item_id"] in dataset_of:
                names.setdefault(dataset_of[r["item_id"]], set()).add(r["name"])
        ontology = OntologyCatalog(self)
        ids = {ds: ontology.class_ids(ds, of_ds) for ds, of_ds in names.items()}
        for r in rows:
            r["class_id"] = ids.get(dataset_of.get(r["item_id"], -1), {}).get(r["name"])

    def update_item_text(self, item_ids_to_text: dict[int, str]) -> None:
        """Set the text of items already there; their datasets' ``revision`` goes up with it."""
        if not item_ids_to_text:
            return
        with self.session() as s:
            for item_id, text in item_ids_to_text.items():
                s.execute(update(ItemRow).where(ItemRow.id == item_id).values(text=text))
            edited = select(ItemRow.dataset_id).where(ItemRow.id.in_(list(item_ids_to_text)))
            s.execute(
                update(DatasetRow)
                .where(DatasetRow.id.in_(edited))
                .values(revision=DatasetRow.revision + 1)
            )

    def update_item_metadata(self, item_ids_to_fields: dict[int, dict[str, Any]]) -> None:
        """Merge fields into the metadata of items already there (a field set to None is
        removed); their datasets' ``revision`` goes up with it."""
        if not item_ids_to_fields:
            return
        with self.session() as s:
            ids = list(item_ids_to_fields)
            for i in range(0, len(ids), _CHUNK):
                stmt = select(ItemRow).where(ItemRow.id.in_(ids[i : i + _CHUNK]))
                for row in s.scalars(stmt):
                    meta = {**(row.meta or {}), **item_ids_to_fields[row.id]}
                    row.meta = {k: v for k, v in meta.items() if v is not None}
            edited = select(ItemRow.dataset_id).where(ItemRow.id.in_(ids))
            s.execute(
                update(DatasetRow)
                .where(DatasetRow.id.in_(edited))
                .values(revision=DatasetRow.revision + 1)
            )

    def count_items(self, dataset_id: int) -> int:
        with self.session() as s:
            stmt = select(func.count()).where(ItemRow.dataset_id == dataset_id)
            return s.execute(stmt).scalar_one()

    def get_item(self, item_id: int) -> Item:
        with self.session() as s:
            row = s.get(ItemRow, item_id)
            if row is None:
                raise NotFoundError(f"no item with id {item_id}")
            return _item(row)

    def get_items(self, item_ids: Sequence[int]) -> dict[int, Item]:
        out: dict[int, Item] = {}
        with self.session() as s:
            for i in range(0, len(item_ids), _CHUNK):
                stmt = select(ItemRow).where(ItemRow.id.in_(item_ids[i : i + _CHUNK]))
                out.update({r.id: _item(r) for r in s.scalars(stmt)})
        return out

    def item_ids(self, dataset_id: int) -> list[int]:
        """The ids of every item of the dataset, ascending."""
        with self.session() as s:
            stmt = select(ItemRow.id).where(ItemRow.dataset_id == dataset_id).order_by(ItemRow.id)
            return list(s.scalars(stmt))

    def iter_items(self, dataset_id: int, *, batch_size: int = 1000) -> Iterator[Item]:
        """Every item of the dataset in id order, fetched in batches (constant memory)."""
        last = 0
        while True:
            with self.session() as s:
                stmt = (
                    select(ItemRow)
                    .where(ItemRow.dataset_id == dataset_id, ItemRow.id > last)
                    .order_by(ItemRow.id)
                    .limit(batch_size)
                )
                rows = list(s.scalars(stmt))
            if not rows:
                return
            yield from (_item(r) for r in rows)
            last = rows[-1].id

    def item_labels(self, item_id: int) -> list[Label]:
        with self.session() as s:
            stmt = select(LabelRow).where(LabelRow.item_id == item_id).order_by(LabelRow.id)
            return [label_of(r) for r in s.scalars(stmt)]

    def get_label(self, label_id: int) -> tuple[int, Label]:
        """The label ``label_id`` and the id of its item."""
        with self.session() as s:
            row = s.get(LabelRow, label_id)
            if row is None:
                raise NotFoundError(f"no label with id {label_id}")
            return row.item_id, label_of(row)

    def label_names(self, dataset_id: int) -> dict[str, int]:
        """Each label name of the dataset and on how many items it appears."""
        stmt = (
            select(LabelRow.name, func.count(func.distinct(LabelRow.item_id)))
            .join(ItemRow, ItemRow.id == LabelRow.item_id)
            .where(ItemRow.dataset_id == dataset_id)
            .group_by(LabelRow.name)
            .order_by(LabelRow.name)
        )
        with self.session() as s:
            return {name: n for name, n in s.execute(stmt)}

    def items_with_labels(
        self, dataset_id: int, names: Sequence[str], mode: Literal["any", "all"] = "any"
    ) -> set[int]:
        """Ids of the items carrying any (or all) of the label ``names``."""
        stmt = (
            select(LabelRow.item_id)
            .join(ItemRow, ItemRow.id == LabelRow.item_id)
            .where(ItemRow.dataset_id == dataset_id, LabelRow.name.in_(list(names)))
            .group_by(LabelRow.item_id)
        )
        if mode == "all":
            stmt = stmt.having(func.count(func.distinct(LabelRow.name)) == len(set(names)))
        with self.session() as s:
            return set(s.scalars(stmt))

    # -- embedding spaces -----------------------------------------------------------------
    def ensure_space(self, dataset_id: int, name: str, kind: str, model: str, dim: int) -> None:
        """Record that the dataset has space ``name``; a different model under it is an error."""
        with self.session() as s:
            row = s.scalars(
                select(EmbeddingSpaceRow).where(
                    EmbeddingSpaceRow.dataset_id == dataset_id, EmbeddingSpaceRow.name == name
                )
            ).one_or_none()
            if row is None:
                s.add(
                    EmbeddingSpaceRow(
                        dataset_id=dataset_id, name=name, kind=kind, model=model, dim=dim
                    )
                )
            elif (row.kind, row.model, row.dim) != (kind, model, dim):
                raise AlreadyExistsError(
                    f"space {name!r} already holds {row.kind} vectors of {row.model!r} "
                    f"(dim {row.dim}); use another space name for {model!r}"
                )

    def list_spaces(self, dataset_id: int) -> list[dict[str, Any]]:
        with self.session() as s:
            stmt = select(EmbeddingSpaceRow).where(EmbeddingSpaceRow.dataset_id == dataset_id)
            return [
                {"name": r.name, "kind": r.kind, "model": r.model, "dim": r.dim}
                for r in s.scalars(stmt.order_by(EmbeddingSpaceRow.name))
            ]

    def get_space(self, dataset_id: int, name: str) -> dict[str, Any]:
        for space in self.list_spaces(dataset_id):
            if space["name"] == name:
                return space
        raise NotFoundError(f"dataset has no embedding space {name!r}; run `tagscope embed` first")

    # -- jobs -----------------------------------------------------------------------------
    def create_job(self, kind: str, dataset_id: int | None, params: dict[str, Any]) -> Job:
        with self.session() as s:
            row = JobRow(kind=kind, dataset_id=dataset_id, params=params, status="queued")
            s.add(row)
            s.flush()
            return _job(row)

    def update_job(self, job_id: int, **values: Any) -> None:
        if "status" in values:
            values["status"] = str(values["status"])
        with self.session() as s:
            s.execute(update(JobRow).where(JobRow.id == job_id).values(**values))

    def get_job(self, job_id: int) -> Job:
        with self.session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NotFoundError(f"no job with id {job_id}")
            return _job(row)

    def list_jobs(self, dataset_id: int | None = None) -> list[Job]:
        stmt = select(JobRow).order_by(JobRow.id.desc())
        if dataset_id is not None:
            stmt = stmt.where(JobRow.dataset_id == dataset_id)
        with self.session() as s:
            return [_job(r) for r in s.scalars(stmt)]


__all__ = ["Catalog", "label_key", "label_of"]
