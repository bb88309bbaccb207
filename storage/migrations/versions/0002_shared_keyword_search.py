"""Keyword search shared by every app node: on PostgreSQL, the passages and pages in `keyword_entries`.

Nothing on SQLite, where keyword search stays in Tantivy in the data folder.

Revision ID: 0002
"""

from __future__ import annotations

from alembic import op

from storage import sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in sql.postgres_only.sorted_tables:
        table.create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in reversed(sql.postgres_only.sorted_tables):
        table.drop(bind, checkfirst=True)
