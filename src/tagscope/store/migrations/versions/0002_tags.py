"""tag groups, tags, prompts, examples, reviews, versions, uses

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column:
    return sa.Column("id", BigId, autoincrement=True, nullable=False)


def _ref(name: str, table: str, *, nullable: bool = False) -> list:
    return [
        sa.Column(name, BigId, nullable=nullable),
        sa.ForeignKeyConstraint([name], [f"{table}.id"], ondelete="CASCADE"),
    ]


def _index(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for col in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{col}"), [col], unique=False)


def upgrade() -> None:
    op.create_table(
        "tag_groups",
        _id(),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        *_ref("dataset_id", "datasets"),
        sa.Column("space", sa.String(length=64), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    _index("tag_groups", "dataset_id")
    op.create_table(
        "tags",
        _id(),
        *_ref("group_id", "tag_groups"),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_id", "name", name="uq_tags_group_name"),
    )
    _index("tags", "group_id")
    op.create_table(
        "tag_prompts",
        _id(),
        *_ref("tag_id", "tags"),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("polarity", sa.String(length=16), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("tag_prompts", "tag_id")
    op.create_table(
        "tag_examples",
        _id(),
        *_ref("tag_id", "tags"),
        *_ref("item_id", "items"),
        sa.Column("polarity", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tag_id", "item_id", name="uq_tag_examples_tag_item"),
    )
    _index("tag_examples", "tag_id", "item_id")
    op.create_table(
        "tag_reviews",
        _id(),
        *_ref("tag_id", "tags"),
        *_ref("item_id", "items"),
        sa.Column("label", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tag_id", "item_id", name="uq_tag_reviews_tag_item"),
    )
    _index("tag_reviews", "tag_id", "item_id")
    op.create_table(
        "tag_group_versions",
        _id(),
        *_ref("group_id", "tag_groups"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("space", sa.String(length=64), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_id", "version", name="uq_tag_group_versions_group_version"),
    )
    _index("tag_group_versions", "group_id")
    op.create_table(
        "tag_group_uses",
        _id(),
        *_ref("group_id", "tag_groups"),
        *_ref("dataset_id", "datasets"),
        sa.Column("is_training", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("target_version", sa.Integer(), nullable=True),
        sa.Column("n_done", sa.BigInteger(), nullable=False),
        sa.Column("n_total", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_id", "dataset_id", name="uq_tag_group_uses"),
    )
    _index("tag_group_uses", "group_id", "dataset_id")


def downgrade() -> None:
    for table in (
        "tag_group_uses",
        "tag_group_versions",
        "tag_reviews",
        "tag_examples",
        "tag_prompts",
        "tags",
        "tag_groups",
    ):
        op.drop_table(table)
