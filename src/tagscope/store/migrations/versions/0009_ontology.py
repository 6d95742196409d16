"""ontology_classes and ontology_questions per dataset; labels gain class_id, author,
created_at, model and a stored area

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 13:00:00
"""

from datetime import UTC, datetime
from itertools import groupby

import sqlalchemy as sa
from alembic import op

from tagscope.domain.geometry import label_area
from tagscope.domain.ontology import palette_colors

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BATCH = 1000  # labels read and updated per round trip


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
    _backfill_areas()
    _backfill_classes()


def _backfill_areas() -> None:
    """Compute the stored area of the labels already there (boxes, polygons, masks), in id
    order a batch at a time."""
    labels = sa.table(
        "labels",
        sa.column("id", sa.BigInteger()),
        sa.column("kind", sa.String()),
        sa.column("geometry", sa.JSON()),
        sa.column("area", sa.Float()),
    )
    bind = op.get_bind()
    query = (
        sa.select(labels.c.id, labels.c.kind, labels.c.geometry)
        .where(labels.c.kind.in_(["box", "polygon", "mask"]))
        .order_by(labels.c.id)
        .limit(_BATCH)
    )
    store = (
        sa.update(labels).where(labels.c.id == sa.bindparam("_id")).values(area=sa.bindparam("a"))
    )
    last = 0
    while rows := bind.execute(query.where(labels.c.id > last)).all():
        areas = [{"_id": i, "a": label_area(kind, geometry)} for i, kind, geometry in rows]
        bind.execute(store, areas)
        last = rows[-1][0]


def _backfill_classes() -> None:
    """Give the labels already there their class: one per dataset and name, in palette
    colours."""
    bind = op.get_bind()
    pairs = bind.execute(
        sa.text(
            "SELECT DISTINCT i.dataset_id, l.name FROM labels l JOIN items i ON i.id = l.item_id "
            "WHERE l.name <> '' ORDER BY i.dataset_id, l.name"
        )
    ).all()
    classes = sa.table(
        "ontology_classes",
        sa.column("dataset_id", sa.BigInteger()),
        sa.column("name", sa.String()),
        sa.column("color", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    rows = []
    for dataset_id, of_dataset in groupby(pairs, key=lambda p: p[0]):
        names = [name for _, name in of_dataset]
        colors = palette_colors((), len(names))
        rows += [
            {"dataset_id": dataset_id, "name": n, "color": c, "created_at": now}
            for n, c in zip(names, colors, strict=True)
        ]
    if not rows:
        return
    bind.execute(sa.insert(classes), rows)
    bind.execute(
        sa.text(
            "UPDATE labels SET class_id = (SELECT c.id FROM ontology_classes c JOIN items i "
            "ON i.dataset_id = c.dataset_id WHERE i.id = labels.item_id AND c.name = labels.name) "
            "WHERE name <> ''"
        )
    )


def downgrade() -> None:
    op.drop_index("ix_labels_class_id", table_name="labels")
    with op.batch_alter_table("labels") as batch:
        for column in ("area", "model", "created_at", "author", "class_id"):
            batch.drop_column(column)
    op.drop_table("ontology_questions")
    op.drop_table("ontology_classes")
