"""Alembic's environment: migrations run on the connection Confidant hands over (storage.migrations.upgrade)."""

from __future__ import annotations

from alembic import context

from storage.sql import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # offline SQL generation is not used
    raise RuntimeError("run migrations through storage.migrations.upgrade(engine)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
