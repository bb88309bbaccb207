"""The document registry: one row per (document, collection), kept in SQLite."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from storage.records import DocState, DocumentRecord
from storage.sqlite import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id          TEXT NOT NULL,
    collection  TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    source_path TEXT NOT NULL DEFAULT '',
    bytes       INTEGER NOT NULL DEFAULT 0,
    state       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    pages       INTEGER NOT NULL DEFAULT 0,
    chunks      INTEGER NOT NULL DEFAULT 0,
    characters  INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE INDEX IF NOT EXISTS documents_state ON documents(state);
"""

_COLUMNS = (
    "id, collection, file_name, source_path, bytes, state, reason, pages, chunks, characters, created_at, updated_at"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Registry(Protocol):
    """Remembers documents and their states."""

    def get(self, collection: str, document_id: str) -> DocumentRecord | None: ...
    def find(self, document_id: str) -> list[DocumentRecord]: ...
    def begin(self, record: DocumentRecord) -> None: ...
    def finish(self, collection: str, document_id: str, state: DocState, reason: str = "", *,
               pages: int = 0, chunks: int = 0, characters: int = 0) -> None: ...
    def documents(self, collection: str | None = None, state: DocState | None = None) -> list[DocumentRecord]: ...
    def delete(self, collection: str, document_id: str) -> None: ...
    def collections(self) -> list[str]: ...


class SqliteRegistry:
    """Registry in a SQLite file; safe to share between threads of one process and between processes."""

    def __init__(self, path: Path) -> None:
        self._conn = open_database(path, _SCHEMA)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                yield cur
            finally:
                cur.close()

    @staticmethod
    def _record(row: sqlite3.Row) -> DocumentRecord:
        values = dict(row)
        values["state"] = DocState(values["state"])
        return DocumentRecord(**values)

    def get(self, collection: str, document_id: str) -> DocumentRecord | None:
        with self._tx() as cur:
            row = cur.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE collection = ? AND id = ?", (collection, document_id)
            ).fetchone()
        return self._record(row) if row else None

    def find(self, document_id: str) -> list[DocumentRecord]:
        """Every collection's record of a document id (or of an id prefix of at least 8 characters)."""
        with self._tx() as cur:
            rows = cur.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE id = ? OR (length(?) >= 8 AND id LIKE ? || '%')",
                (document_id, document_id, document_id),
            ).fetchall()
        return [self._record(r) for r in rows]

    def begin(self, record: DocumentRecord) -> None:
        """Insert or reset a document to `pending` before any of its chunks are stored."""
        now = _now()
        with self._tx() as cur:
            cur.execute(
                f"INSERT INTO documents ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, '', 0, 0, 0, ?, ?) "
                "ON CONFLICT (collection, id) DO UPDATE SET file_name = excluded.file_name, "
                "source_path = excluded.source_path, bytes = excluded.bytes, state = excluded.state, "
                "reason = '', pages = 0, chunks = 0, characters = 0, updated_at = excluded.updated_at",
                (record.id, record.collection, record.file_name, record.source_path, record.bytes,
                 DocState.PENDING.value, now, now),
            )

    def finish(self, collection: str, document_id: str, state: DocState, reason: str = "", *,
               pages: int = 0, chunks: int = 0, characters: int = 0) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE documents SET state = ?, reason = ?, pages = ?, chunks = ?, characters = ?, updated_at = ? "
                "WHERE collection = ? AND id = ?",
                (state.value, reason, pages, chunks, characters, _now(), collection, document_id),
            )

    def documents(self, collection: str | None = None, state: DocState | None = None) -> list[DocumentRecord]:
        query = f"SELECT {_COLUMNS} FROM documents WHERE 1 = 1"
        params: list[str] = []
        if collection is not None:
            query += " AND collection = ?"
            params.append(collection)
        if state is not None:
            query += " AND state = ?"
            params.append(state.value)
        query += " ORDER BY collection, file_name"
        with self._tx() as cur:
            rows = cur.execute(query, params).fetchall()
        return [self._record(r) for r in rows]

    def delete(self, collection: str, document_id: str) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM documents WHERE collection = ? AND id = ?", (collection, document_id))

    def collections(self) -> list[str]:
        with self._tx() as cur:
            rows = cur.execute("SELECT DISTINCT collection FROM documents ORDER BY collection").fetchall()
        return [r[0] for r in rows]

    def close(self) -> None:
        self._conn.close()
