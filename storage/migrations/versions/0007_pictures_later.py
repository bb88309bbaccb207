"""Pictures read after the text: a document remembers whether the large pictures on its pages are still to be read
by OCR. Documents indexed before this revision had theirs read with the text, so none are pending.

Revision ID: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("documents")}
    if "pictures_pending" in present:  # a new database: revision 0001 made the table in today's shape, empty
        return
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("pictures_pending", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("pictures_pending")
