"""Preferences per user and for the whole site: the answer model a person chose, the default and allowed models,
each model's measured speed, a person's own evaluation set.

Revision ID: 0004
"""

from __future__ import annotations

from alembic import op

from storage import sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sql.preferences.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    sql.preferences.drop(op.get_bind(), checkfirst=True)
