"""Alembic migrations of the records database (storage/sql.py), run in place when Confidant opens it.

A new migration: add a file to versions/ whose `down_revision` is the newest one (named NNNN_what.py), with
`upgrade()` written against storage.sql's tables; `tests/test_records.py` opens a database of every earlier shape.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

HERE = Path(__file__).resolve().parent


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision, in one transaction that other processes wait for."""
    from storage.sql import writing

    if current(engine) == head():
        return
    with writing(engine, "schema") as conn:
        command.upgrade(config(conn), "head")
