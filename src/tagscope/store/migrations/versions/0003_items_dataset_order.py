"""index items by (dataset_id, id): a dataset's pages in id order without a sort or a full scan

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:00:00
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_items_dataset_id_id", "items", ["dataset_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_items_dataset_id_id", table_name="items")
