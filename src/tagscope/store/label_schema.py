"""Catalog tables of ontologies, label jobs, their review and result sets (migrations
``0009_ontology`` and ``0010_label_jobs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tagscope.store.schema import Base, BigId, utcnow


class OntologyClassRow(Base):
    """A class of a dataset's ontology: labels refer to it by id."""

    __tablename__ = "ontology_classes"
    __table_args__ = (
        UniqueConstraint("dataset_id", "name", name="uq_ontology_classes_dataset_name"),
        # The change log and labels name classes by id: never reuse one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(256))
    color: Mapped[str] = mapped_column(String(16))  # "#rrggbb"
    hotkey: Mapped[str | None] = mapped_column(String(8))  # "1".."9" or a letter
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OntologyQuestionRow(Base):
    """A classification question of a dataset's ontology: radio, checklist or free text."""

    __tablename__ = "ontology_questions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "name", name="uq_ontology_questions_dataset_name"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))  # radio | checklist | text
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LabelJobRow(Base):
    """A label job: ``auto`` (prelabels made from a tag's decisions or a model's predictions)
    or ``manual`` (people label the job's items, seeing the prelabels, then submit it)."""

    __tablename__ = "label_jobs"
    __table_args__ = (
        UniqueConstraint("dataset_id", "name", name="uq_label_jobs_dataset_name"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # auto | manual
    # auto: done; manual: open -> submitted (matched, under review) -> closed.
    status: Mapped[str] = mapped_column(String(16))
    # The collection it was made from, by title (the job keeps its own item list).
    collection: Mapped[str | None] = mapped_column(String(128))
    # auto: {"tag": ..., "group": ..., "threshold": ...} or {"model": ...}; manual:
    # {"iou": 0.5, "label_kinds": [...]}.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    assignees: Mapped[list[str]] = mapped_column(JSON, default=list)  # user ids
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LabelJobItemRow(Base):
    """An item of a label job: who it is given to and when it was marked done."""

    __tablename__ = "label_job_items"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("label_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    assignee: Mapped[str | None] = mapped_column(String(128))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LabelChangeRow(Base):
    """One expert label matched to its prelabel when a manual job was submitted.

    ``change`` is ``unchanged``, ``class_changed``, ``geometry_changed``, ``added`` (an expert
    label without prelabel) or ``deleted`` (a prelabel without expert label); ``status`` is
    ``pending``, ``accepted`` or ``rejected``. ``expert`` and ``prelabel`` are the two labels as
    they were at submission (kind, name, class_id, geometry, area, attributes).
    """

    __tablename__ = "label_changes"
    __table_args__ = (Index("ix_label_changes_job_status", "job_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("label_jobs.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    change: Mapped[str] = mapped_column(String(24))
    label_kind: Mapped[str] = mapped_column(String(16))
    expert_class: Mapped[str | None] = mapped_column(String(256))
    prelabel_class: Mapped[str | None] = mapped_column(String(256))
    iou: Mapped[float | None] = mapped_column(Float)
    expert_area: Mapped[float | None] = mapped_column(Float)
    prelabel_area: Mapped[float | None] = mapped_column(Float)
    # expert area / prelabel area (None unless both have an area).
    adjustment: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    expert_label_id: Mapped[int | None] = mapped_column(BigInteger)
    prelabel_label_id: Mapped[int | None] = mapped_column(BigInteger)
    expert: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    prelabel: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class ResultSetRow(Base):
    """Accepted results of a label job's review, saved under a name (SQL view ``rs_<name>``)."""

    __tablename__ = "result_sets"
    __table_args__ = (
        UniqueConstraint("dataset_id", "name", name="uq_result_sets_dataset_name"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ResultSetLabelRow(Base):
    """One label of a result set, as the review left it."""

    __tablename__ = "result_set_labels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    result_set_id: Mapped[int] = mapped_column(
        ForeignKey("result_sets.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    label_change_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(256))
    class_id: Mapped[int | None] = mapped_column(BigInteger)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    area: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    change: Mapped[str] = mapped_column(String(24))
    decision: Mapped[str] = mapped_column(String(16))  # accepted | rejected
