"""The records database: every table Confidant keeps (documents, accounts, tokens, audit, collections, feedback) in
one SQL database — a SQLite file in the data folder by default, or a team's PostgreSQL server — through SQLAlchemy
Core, its schema kept by Alembic migrations (storage/migrations/).

`open_records(url_or_path)` opens the database and brings its schema up to date (a database made before the
migrations existed is adopted: its tables are kept and completed). `writing(engine, lock)` is a transaction that
writes: on SQLite it takes the write lock at once (BEGIN IMMEDIATE), so read-then-write steps cannot race other
processes; on PostgreSQL a named `lock` also serialises it against other processes' transactions of that name.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ARRAY,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

metadata = MetaData()

documents = Table(
    "documents", metadata,
    Column("id", Text, primary_key=True),
    Column("collection", Text, primary_key=True),
    Column("file_name", Text, nullable=False),
    Column("source_path", Text, nullable=False, server_default=""),
    Column("bytes", Integer, nullable=False, server_default="0"),
    Column("state", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("pages", Integer, nullable=False, server_default="0"),
    Column("chunks", Integer, nullable=False, server_default="0"),
    Column("characters", Integer, nullable=False, server_default="0"),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("source_key", Text, nullable=False, server_default=""),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("current", Integer, nullable=False, server_default="1"),
    Column("effective_date", Text, nullable=False, server_default=""),
    Column("ocr_pages", Text, nullable=False, server_default=""),
    # chunks with their vectors stored: a document is keyword-searchable once `indexed`; its vectors follow, and
    # semantic search finds all of it once `embedded` reaches `chunks` (ingest/pipeline.py, two stages)
    Column("embedded", Integer, nullable=False, server_default="0"),
    # 1 while the large pictures on its pages are still to be read by OCR (a later step than the text: see
    # IngestPipeline.read_pictures); their text then becomes more chunks, after the others
    Column("pictures_pending", Integer, nullable=False, server_default="0"),
    Index("documents_state", "state"),
    Index("documents_source", "collection", "source_key"),
)

users = Table(
    "users", metadata,
    Column("username", Text, primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("disabled", Integer, nullable=False, server_default="0"),
)

login_failures = Table(
    "login_failures", metadata,
    Column("username", Text, nullable=False),
    Column("at", Text, nullable=False),
    Index("login_failures_name", "username", "at"),
)

memberships = Table(
    "memberships", metadata,
    Column("username", Text, primary_key=True),
    Column("collection", Text, primary_key=True),
    Index("memberships_collection", "collection"),
)

tokens = Table(
    "tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", Text, nullable=False, unique=True),
    Column("prefix", Text, nullable=False),
    Column("username", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("expires_at", Text),
    Column("revoked", Integer, nullable=False, server_default="0"),
    Index("tokens_user", "username"),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Text, nullable=False),
    Column("user", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("collections", Text, nullable=False, server_default="[]"),
    Column("question", Text, nullable=False, server_default=""),
    Column("documents", Text, nullable=False, server_default="[]"),
    Column("model", Text, nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default=""),
    Column("client", Text, nullable=False, server_default=""),
    Index("audit_at", "at"),
    Index("audit_user", "user", "at"),
)

# one row per collection an audit event touched: "events on these collections only" in portable SQL
audit_collections = Table(
    "audit_collections", metadata,
    Column("event_id", Integer, ForeignKey("audit.id", ondelete="CASCADE"), primary_key=True),
    Column("collection", String(500), primary_key=True),
    Index("audit_collections_name", "collection"),
)

collection_settings = Table(
    "collection_settings", metadata,
    Column("name", Text, primary_key=True),
    Column("title", Text, nullable=False, server_default=""),
    Column("instructions", Text, nullable=False, server_default=""),
    Column("starters", Text, nullable=False, server_default="[]"),
)

feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("citations", Text, nullable=False, server_default="[]"),
    Column("rating", Text, nullable=False),
    Column("comment", Text, nullable=False, server_default=""),
    Column("created_at", Text, nullable=False),
)

# a user's conversations on the chat page (storage/conversations.py), so they follow the user across app nodes
conversations = Table(
    "conversations", metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("scope", Text, nullable=False, server_default="{}"),  # JSON: the collections or the one document asked
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Index("conversations_owner", "owner", "updated_at"),
)

conversation_turns = Table(
    "conversation_turns", metadata,
    Column("id", String(64), primary_key=True),
    Column("conversation_id", String(64), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("question", Text, nullable=False),
    Column("state", Text, nullable=False),  # asking (the answer is being written) · answered · interrupted
    Column("answer", Text, nullable=False, server_default=""),  # JSON of the checked answer, once answered
    Column("partial", Text, nullable=False, server_default=""),  # what the model had written, while asking
    Column("scope", Text, nullable=False, server_default=""),  # which collections or document were asked
    Column("rating", Text, nullable=False, server_default=""),
    Column("created_at", Text, nullable=False),
    Index("conversation_turns_order", "conversation_id", "position"),
)

# settings kept per user ("answer_model") or for the whole site (owner ""): the model choice and its policy, and
# each answer model's measured speed on this machine
preferences = Table(
    "preferences", metadata,
    Column("owner", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),
)

# the review grid's cells (storage/grid_cells.py): one question asked of one document alone, kept so a grid resumes
# where it stopped and a changed document redoes only its row; a reviewer's correction is kept beside the answer
grid_cells = Table(
    "grid_cells", metadata,
    Column("collection", String(200), primary_key=True),
    Column("document_id", String(64), primary_key=True),
    Column("question", String(2000), primary_key=True),
    Column("version", Text, nullable=False),  # the document's version when answered
    Column("file_name", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("quote", Text, nullable=False),
    Column("page", Integer),
    Column("start", Integer, nullable=False, server_default="0"),
    Column("end", Integer, nullable=False, server_default="0"),
    Column("state", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("seconds", Float, nullable=False, server_default="0"),
    Column("answered_at", Text, nullable=False),
    Column("reviewed_answer", Text, nullable=False, server_default=""),
    Column("reviewed_by", Text, nullable=False, server_default=""),
    Column("reviewed_at", Text, nullable=False, server_default=""),
)

# keyword search shared by every node (storage/pg_keyword_index.py): PostgreSQL only, so kept apart from `metadata`
postgres_only = MetaData()

keyword_entries = Table(
    "keyword_entries", postgres_only,
    Column("index_name", Text, primary_key=True),  # "keywords" (passages) or "pages" (whole pages)
    Column("chunk_id", Text, primary_key=True),
    Column("collection", Text, nullable=False),
    Column("document_id", Text, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("page", Integer, nullable=False),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("text_stems", JSONB, nullable=False),  # stem → how often the text has it (BM25's term frequency)
    Column("title_stems", JSONB, nullable=False),  # stem → how often the document's title has it
    Column("tokens", Integer, nullable=False),  # the text's length in words, for BM25's length normalisation
    Column("words", TSVECTOR, nullable=False),  # the text's and the title's stems: what a question is matched on
    Column("vocab", ARRAY(Text), nullable=False),  # the text's words as spelling correction counts them
    Index("keyword_entries_words", "words", postgresql_using="gin"),
    Index("keyword_entries_document", "index_name", "collection", "document_id"),
)

keyword_changes = Table(
    "keyword_changes", postgres_only,
    Column("index_name", Text, primary_key=True),
    Column("version", Integer, nullable=False),  # counts writes, so caches know when to read again
)

_WRITE = "confidant_write"  # the execution option that makes a SQLite transaction BEGIN IMMEDIATE


def database_url(location: str | Path) -> str:
    """A SQLAlchemy URL: a path is a SQLite file; postgresql://… is served by psycopg 3."""
    value = str(location)
    if value.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).resolve()}"


def connect(location: str | Path) -> Engine:
    """An engine for the records database (no schema work: see `open_records`)."""
    url = database_url(location)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                             connect_args={"connect_timeout": 10})
    path = Path(url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, not by the driver
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def writing(engine: Engine, lock: str = "") -> Iterator[Connection]:
    """A transaction that writes (committed at the end, rolled back on any error)."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE: True})
        with conn.begin():
            if lock and not is_sqlite(conn):
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(lock)})
            yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn


def lock_key(name: str) -> int:
    return zlib.crc32(name.encode())


@contextmanager
def held_lock(engine: Engine, name: str) -> Iterator[None]:
    """A lock held across transactions by every process using this PostgreSQL database (nothing on SQLite, whose
    callers use a file lock in the data folder)."""
    if is_sqlite(engine):
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": lock_key(name)})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key(name)})
            conn.commit()


def open_records(location: str | Path) -> Engine:
    """The records database with its schema up to date (migrated in place, one process at a time)."""
    from storage.migrations import upgrade

    engine = connect(location)
    upgrade(engine)
    return engine
