"""datasets.revision: bumped when a dataset's items are edited in place (their text), so copies
of the catalog (the SQL engine's) know to reload that dataset

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch_op:
        batch_op.drop_column("revision")
