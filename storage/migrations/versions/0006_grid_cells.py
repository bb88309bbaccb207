"""The review grid's cells: one question asked of one document, with its quote, page, state and any reviewer's
correction.

Revision ID: 0006
"""

from __future__ import annotations

from alembic import op

from storage import sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sql.grid_cells.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    sql.grid_cells.drop(op.get_bind(), checkfirst=True)
