"""ontology_classes and ontology_questions per dataset; labels gain class_id, author,
created_at, model and a stored area

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 13:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ontology_classes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("dataset_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("color", sa.String(length=16), nullable=False),
        sa.Column("hotkey", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "name", name="uq_ontology_classes_dataset_name"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_ontology_classes_dataset_id", "ontology_classes", ["dataset_id"])
    op.create_table(
        "ontology_questions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("dataset_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "name", name="uq_ontology_questions_dataset_name"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_ontology_questions_dataset_id", "ontology_questions", ["dataset_id"])
    with op.batch_alter_table("labels") as batch:
        batch.add_column(sa.Column("class_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("author", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("model", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("area", sa.Float(), nullable=True))
    op.create_index("ix_labels_class_id", "labels", ["class_id"])


def downgrade() -> None:
    op.drop_index("ix_labels_class_id", table_name="labels")
    with op.batch_alter_table("labels") as batch:
        for column in ("area", "model", "created_at", "author", "class_id"):
            batch.drop_column(column)
    op.drop_table("ontology_questions")
    op.drop_table("ontology_classes")
