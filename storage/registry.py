"""The document registry: one row per (document, collection), kept in SQLite."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
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

# columns added after the first release; a registry from before gets them on open
_VERSION_COLUMNS = {
    "source_key": "TEXT NOT NULL DEFAULT ''",
    "version": "INTEGER NOT NULL DEFAULT 1",
    "current": "INTEGER NOT NULL DEFAULT 1",
    "effective_date": "TEXT NOT NULL DEFAULT ''",
    "ocr_pages": "TEXT NOT NULL DEFAULT ''",
}

_COLUMNS = (
    "id, collection, file_name, source_path, bytes, state, reason, pages, chunks, characters, created_at, updated_at, "
    "source_key, version, current, effective_date, ocr_pages"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Registry(Protocol):
    """Remembers documents and their states."""

    def get(self, collection: str, document_id: str) -> DocumentRecord | None: ...
    def find(self, document_id: str) -> list[DocumentRecord]: ...
    def begin(self, record: DocumentRecord) -> None: ...
    def finish(self, collection: str, document_id: str, state: DocState, reason: str = "", *,
               pages: int = 0, chunks: int = 0, characters: int = 0, ocr_pages: Sequence[int] = ()) -> None: ...
    def make_current(self, collection: str, document_id: str) -> None: ...
    def versions(self, collection: str, source_key: str) -> list[DocumentRecord]: ...
    def set_effective_date(self, collection: str, document_id: str, date: str) -> None: ...
    def documents(self, collection: str | None = None, state: DocState | None = None) -> list[DocumentRecord]: ...
    def delete(self, collection: str, document_id: str) -> None: ...
    def collections(self) -> list[str]: ...


class SqliteRegistry:
    """Registry in a SQLite file; safe to share between threads of one process and between processes."""

    def __init__(self, path: Path) -> None:
        self._conn = open_database(path, _SCHEMA)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        present = {row["name"] for row in self._conn.execute("PRAGMA table_info(documents)")}
        for column, kind in _VERSION_COLUMNS.items():
            if column not in present:
                self._conn.execute(f"ALTER TABLE documents ADD COLUMN {column} {kind}")
        if "source_key" not in present:
            self._conn.execute("UPDATE documents SET source_key = file_name")
        self._conn.execute("CREATE INDEX IF NOT EXISTS documents_source ON documents(collection, source_key)")

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
        values["current"] = bool(values["current"])
        values["ocr_pages"] = tuple(int(p) for p in values["ocr_pages"].split(",") if p)
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
        """Insert or reset a document to `pending` (not current) before any of its chunks are stored."""
        now = _now()
        with self._tx() as cur:
            cur.execute(
                f"INSERT INTO documents ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, '', 0, 0, 0, ?, ?, ?, 1, 0, ?, '') "
                "ON CONFLICT (collection, id) DO UPDATE SET file_name = excluded.file_name, "
                "source_path = excluded.source_path, bytes = excluded.bytes, state = excluded.state, "
                "reason = '', pages = 0, chunks = 0, characters = 0, updated_at = excluded.updated_at, "
                "source_key = excluded.source_key, current = 0, effective_date = excluded.effective_date, "
                "ocr_pages = ''",
                (record.id, record.collection, record.file_name, record.source_path, record.bytes,
                 DocState.PENDING.value, now, now, record.source_key or record.file_name, record.effective_date),
            )

    def finish(self, collection: str, document_id: str, state: DocState, reason: str = "", *,
               pages: int = 0, chunks: int = 0, characters: int = 0, ocr_pages: Sequence[int] = ()) -> None:
        """Record how a document ended. Becoming `indexed` makes it the current version of its source (the
        next version number; earlier versions stay searchable on request) in the same transaction."""
        with self._tx() as cur:
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute(
                    "UPDATE documents SET state = ?, reason = ?, pages = ?, chunks = ?, characters = ?, "
                    "ocr_pages = ?, updated_at = ? WHERE collection = ? AND id = ?",
                    (state.value, reason, pages, chunks, characters, ",".join(map(str, ocr_pages)), _now(),
                     collection, document_id),
                )
                if state is DocState.INDEXED:
                    self._make_current(cur, collection, document_id)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    @staticmethod
    def _make_current(cur: sqlite3.Cursor, collection: str, document_id: str) -> None:
        key = cur.execute("SELECT source_key FROM documents WHERE collection = ? AND id = ?",
                          (collection, document_id)).fetchone()
        if key is None:
            return
        (newest,) = cur.execute(
            "SELECT coalesce(max(version), 0) FROM documents WHERE collection = ? AND source_key = ? AND id != ? "
            "AND state = 'indexed'", (collection, key[0], document_id)).fetchone()
        cur.execute("UPDATE documents SET current = 0 WHERE collection = ? AND source_key = ? AND id != ?",
                    (collection, key[0], document_id))
        cur.execute("UPDATE documents SET current = 1, version = ? WHERE collection = ? AND id = ?",
                    (int(newest) + 1, collection, document_id))

    def make_current(self, collection: str, document_id: str) -> None:
        """Make an earlier indexed version current again (its file came back), as the newest version."""
        with self._tx() as cur:
            cur.execute("BEGIN IMMEDIATE")
            try:
                self._make_current(cur, collection, document_id)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def versions(self, collection: str, source_key: str) -> list[DocumentRecord]:
        """Every version of one source, newest first."""
        with self._tx() as cur:
            rows = cur.execute(f"SELECT {_COLUMNS} FROM documents WHERE collection = ? AND source_key = ? "
                               "ORDER BY version DESC", (collection, source_key)).fetchall()
        return [self._record(r) for r in rows]

    def set_effective_date(self, collection: str, document_id: str, date: str) -> None:
        with self._tx() as cur:
            cur.execute("UPDATE documents SET effective_date = ?, updated_at = ? WHERE collection = ? AND id = ?",
                        (date, _now(), collection, document_id))

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
