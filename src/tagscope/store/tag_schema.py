"""Catalog tables of tag groups (migration ``0002_tags``): groups, tags, prompts, examples,
reviews, committed versions and the datasets that use each group."""

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
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tagscope.store.schema import Base, BigId, utcnow


class TagGroupRow(Base):
    __tablename__ = "tag_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    # ``dt_<slug>_*`` tables: unique per workspace, so every dataset's SQL sees one group per name.
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    space: Mapped[str] = mapped_column(String(64))
    visibility: Mapped[str] = mapped_column(String(16), default="secret")
    state: Mapped[str] = mapped_column(String(16), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class TagRow(Base):
    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("group_id", "name", name="uq_tags_group_name"),
        # Never reuse a removed tag's id: the change log names tags by id (migration 0013).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("tag_groups.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    threshold: Mapped[float] = mapped_column(Float, default=0.5)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class TagPromptRow(Base):
    __tablename__ = "tag_prompts"
    __table_args__ = ({"sqlite_autoincrement": True},)  # a removed tag's come back by id

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    polarity: Mapped[str] = mapped_column(String(16))
    modality: Mapped[str] = mapped_column(String(16))


class TagExampleRow(Base):
    __tablename__ = "tag_examples"
    __table_args__ = (UniqueConstraint("tag_id", "item_id", name="uq_tag_examples_tag_item"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    polarity: Mapped[str] = mapped_column(String(16))


class TagReviewRow(Base):
    __tablename__ = "tag_reviews"
    __table_args__ = (UniqueConstraint("tag_id", "item_id", name="uq_tag_reviews_tag_item"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    label: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(16), default="person", server_default="person")
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TagGroupVersionRow(Base):
    """A committed version: the frozen tag definitions and the fitted models' parameters."""

    __tablename__ = "tag_group_versions"
    __table_args__ = (
        UniqueConstraint("group_id", "version", name="uq_tag_group_versions_group_version"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("tag_groups.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    space: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TagGroupUseRow(Base):
    """A dataset using a group, and where its scoring stands."""

    __tablename__ = "tag_group_uses"
    __table_args__ = (UniqueConstraint("group_id", "dataset_id", name="uq_tag_group_uses"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("tag_groups.id", ondelete="CASCADE"), index=True
    )
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    is_training: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="unscored")
    version: Mapped[int | None] = mapped_column(Integer)
    target_version: Mapped[int | None] = mapped_column(Integer)
    n_done: Mapped[int] = mapped_column(BigInteger, default=0)
    n_total: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
