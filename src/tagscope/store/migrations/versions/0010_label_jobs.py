"""label_jobs, label_job_items, label_changes (expert labels matched to prelabels, with their
review status), result_sets and result_set_labels

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 13:00:01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "label_jobs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("dataset_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("collection", sa.String(length=128), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("assignees", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "name", name="uq_label_jobs_dataset_name"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_label_jobs_dataset_id", "label_jobs", ["dataset_id"])
    op.create_table(
        "label_job_items",
        sa.Column("job_id", BigId, nullable=False),
        sa.Column("item_id", BigId, nullable=False),
        sa.Column("assignee", sa.String(length=128), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["label_jobs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "item_id"),
    )
    op.create_index("ix_label_job_items_item_id", "label_job_items", ["item_id"])
    op.create_table(
        "label_changes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("job_id", BigId, nullable=False),
        sa.Column("item_id", BigId, nullable=False),
        sa.Column("change", sa.String(length=24), nullable=False),
        sa.Column("label_kind", sa.String(length=16), nullable=False),
        sa.Column("expert_class", sa.String(length=256), nullable=True),
        sa.Column("prelabel_class", sa.String(length=256), nullable=True),
        sa.Column("iou", sa.Float(), nullable=True),
        sa.Column("expert_area", sa.Float(), nullable=True),
        sa.Column("prelabel_area", sa.Float(), nullable=True),
        sa.Column("adjustment", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expert_label_id", sa.BigInteger(), nullable=True),
        sa.Column("prelabel_label_id", sa.BigInteger(), nullable=True),
        sa.Column("expert", sa.JSON(), nullable=True),
        sa.Column("prelabel", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["label_jobs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_label_changes_job_status", "label_changes", ["job_id", "status"])
    op.create_index("ix_label_changes_item_id", "label_changes", ["item_id"])
    op.create_table(
        "result_sets",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("dataset_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "name", name="uq_result_sets_dataset_name"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_result_sets_dataset_id", "result_sets", ["dataset_id"])
    op.create_table(
        "result_set_labels",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("result_set_id", BigId, nullable=False),
        sa.Column("item_id", BigId, nullable=False),
        sa.Column("label_change_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("class_id", sa.BigInteger(), nullable=True),
        sa.Column("geometry", sa.JSON(), nullable=True),
        sa.Column("area", sa.Float(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("change", sa.String(length=24), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["result_set_id"], ["result_sets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_result_set_labels_result_set_id", "result_set_labels", ["result_set_id"])
    op.create_index("ix_result_set_labels_item_id", "result_set_labels", ["item_id"])


def downgrade() -> None:
    op.drop_table("result_set_labels")
    op.drop_table("result_sets")
    op.drop_table("label_changes")
    op.drop_table("label_job_items")
    op.drop_table("label_jobs")
