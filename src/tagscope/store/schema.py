"""Catalog tables (SQLAlchemy 2). Migrations in ``migrations/`` follow these models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}  # noqa: RUF012


class DatasetRow(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Bumped by edits in place of the dataset's items, which copies of the catalog cannot see
    # from ids alone (see store.sql_catalog).
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ItemRow(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("dataset_id", "path", name="uq_items_dataset_path"),
        # A dataset's items in id order (the grid's default pages, keyset cursors).
        Index("ix_items_dataset_id_id", "dataset_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    modality: Mapped[str] = mapped_column(String(16), default="image")
    size: Mapped[int | None] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    format: Mapped[str | None] = mapped_column(String(16))
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # Serving checks the file is still the one imported (size and modification time).
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str | None] = mapped_column(Text)
    split: Mapped[str | None] = mapped_column(String(16))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LabelRow(Base):
    __tablename__ = "labels"
    __table_args__ = (
        # ``key`` is a digest of (kind, name, source, geometry): re-importing adds nothing.
        UniqueConstraint("item_id", "key", name="uq_labels_item_key"),
        Index("ix_labels_name", "name"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(16), default="ground_truth")
    is_main: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float | None] = mapped_column(Float)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The ontology class (``ontology_classes.id``) the label names; ``name`` is its name, kept
    # here because SQL and exports read it (a rename updates both in one change-set).
    class_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # Provenance: who made the label and when (a user id; None for imported labels), and the
    # model of a prediction or a prelabel.
    author: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    model: Mapped[str | None] = mapped_column(String(256))
    # Pixels covered (box, polygon with holes, mask), computed once when written; None for
    # classifications and polylines.
    area: Mapped[float | None] = mapped_column(Float)


class EmbeddingSpaceRow(Base):
    __tablename__ = "embedding_spaces"
    __table_args__ = (UniqueConstraint("dataset_id", "name", name="uq_spaces_dataset_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(Text)
    dim: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    n_done: Mapped[int] = mapped_column(BigInteger, default=0)
    n_total: Mapped[int] = mapped_column(BigInteger, default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ChangeSetRow(Base):
    """An entry of the append-only change log: one action of one actor on a dataset."""

    __tablename__ = "change_sets"
    __table_args__ = (
        Index("ix_change_sets_dataset_id_id", "dataset_id", "id"),
        Index("ix_change_sets_dataset_actor_id", "dataset_id", "actor", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    # Who: an account's name, or the OS user for the CLI and the SDK on the folder.
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    action: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What the action was aimed at (a tag, a query, a collection).
    target: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    undoes: Mapped[int | None] = mapped_column(BigInteger)
    undone_by: Mapped[int | None] = mapped_column(BigInteger)


class ChangeRow(Base):
    """One record of one item as a change-set found it (``before``) and left it (``after``)."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_item_entity_key", "item_id", "entity", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    change_set_id: Mapped[int] = mapped_column(
        ForeignKey("change_sets.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(BigInteger)
    entity: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    # SQL NULL (not JSON null) where the record did not exist.
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
