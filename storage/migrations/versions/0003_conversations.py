"""Conversations kept per user on the server (the chat page's history), with their turns.

Revision ID: 0003
"""

from __future__ import annotations

from alembic import op

from storage import sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = (sql.conversations, sql.conversation_turns)


def upgrade() -> None:
    for table in TABLES:
        table.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    for table in reversed(TABLES):
        table.drop(op.get_bind(), checkfirst=True)
