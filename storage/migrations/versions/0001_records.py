"""Every record in one database: documents, accounts, tokens, audit (with its collections), collections, feedback.

A database made before migrations existed (the registry file of an earlier Confidant, which held documents,
collection settings and feedback) is adopted: tables that exist stay with their rows, missing ones are created,
and a documents table from before versions existed gets its version columns.

Revision ID: 0001
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from storage import sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# the tables this revision made; later revisions' tables are theirs to create
TABLES = ("documents", "users", "login_failures", "memberships", "tokens", "audit", "audit_collections",
          "collection_settings", "feedback")

# columns a documents table of an early release lacks (added on open by the registry before migrations existed)
_LATER_DOCUMENT_COLUMNS = ("source_key", "version", "current", "effective_date", "ocr_pages")


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    for table in sql.metadata.sorted_tables:
        if table.name in TABLES and table.name not in existing:
            table.create(bind)
    if "documents" in existing:
        present = {c["name"] for c in sa.inspect(bind).get_columns("documents")}
        for name in _LATER_DOCUMENT_COLUMNS:
            if name not in present:
                column = sql.documents.c[name]
                op.add_column("documents", sa.Column(name, column.type, nullable=False,
                                                     server_default=column.server_default.arg))  # type: ignore[union-attr]
        if "source_key" not in present:
            op.execute(sql.documents.update().values(source_key=sql.documents.c.file_name))
        indexes = {i["name"] for i in sa.inspect(bind).get_indexes("documents")}
        for index in sql.documents.indexes:
            if index.name not in indexes:
                index.create(bind)
    if "audit" in existing:  # events recorded before the collections table: fill it from their JSON lists
        rows = bind.execute(sa.select(sql.audit.c.id, sql.audit.c.collections)).all()
        links = [{"event_id": event_id, "collection": name}
                 for event_id, names in rows for name in dict.fromkeys(json.loads(names or "[]"))]
        if links:
            bind.execute(sql.audit_collections.insert(), links)


def downgrade() -> None:
    for table in reversed(sql.metadata.sorted_tables):
        if table.name in TABLES:
            table.drop(op.get_bind(), checkfirst=True)
