"""change_sets and changes: the append-only change log of people's edits (who, when, what, and
every changed record before and after), written in the transaction of the edit

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 11:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "change_sets",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("dataset_id", BigId, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("undoes", sa.BigInteger(), nullable=True),
        sa.Column("undone_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_change_sets_dataset_id_id", "change_sets", ["dataset_id", "id"])
    op.create_table(
        "changes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("change_set_id", BigId, nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("before", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("after", sa.JSON(none_as_null=True), nullable=True),
        sa.ForeignKeyConstraint(["change_set_id"], ["change_sets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_changes_change_set_id", "changes", ["change_set_id"])
    op.create_index("ix_changes_item_entity_key", "changes", ["item_id", "entity", "key"])


def downgrade() -> None:
    op.drop_table("changes")
    op.drop_table("change_sets")
