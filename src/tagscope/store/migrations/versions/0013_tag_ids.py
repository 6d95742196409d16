"""tags: ids never reused on SQLite (AUTOINCREMENT), as the change log names a tag by its id

SQLite gives a new row the largest id + 1: a tag added after the newest one was removed took
its id, and the change-sets of the removed tag (its reviews, examples, its removal) would have
applied to the new one. ``tags`` and ``tag_prompts`` (a removed tag's prompts come back under
their ids) are rebuilt with AUTOINCREMENT; PostgreSQL's sequences never reuse an id. SQLite runs
migrations with foreign keys off (``store.database.upgrade``), so the rebuild's DROP of ``tags``
does not cascade to the prompts, examples and reviews of its rows.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 01:40:00
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ("tags", "tag_prompts")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
