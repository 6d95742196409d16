"""Catalog tables of collections (migration ``0008_collections``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tagscope.store.schema import Base, BigId, utcnow


class CollectionRow(Base):
    """A collection of a dataset: static (its items are rows of ``collection_items``) or dynamic
    (``filter``, a grid filter evaluated when the collection is read)."""

    __tablename__ = "collections"
    __table_args__ = (
        UniqueConstraint("dataset_id", "title", name="uq_collections_dataset_title"),
        # Never reuse a deleted collection's id: the change log names collections by id.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))
    filter: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CollectionItemRow(Base):
    """An item of a static collection."""

    __tablename__ = "collection_items"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, index=True
    )
