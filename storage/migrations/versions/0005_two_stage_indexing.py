"""Two-stage indexing: each document remembers how many of its chunks have their vectors stored (`embedded`).
Documents indexed before this revision were embedded whole, so they start with all of them.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("documents")}
    if "embedded" in present:  # a new database: revision 0001 made the table in today's shape, empty
        return
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("embedded", sa.Integer, nullable=False, server_default="0"))
    op.execute("UPDATE documents SET embedded = chunks")


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("embedded")
