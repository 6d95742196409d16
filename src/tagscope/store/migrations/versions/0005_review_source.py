"""tag_reviews.source ('person' or 'llm') and .reason: ground truth an LLM judge proposes, which
people then clean

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tag_reviews") as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(16), nullable=False, server_default="person")
        )
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tag_reviews") as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("source")
