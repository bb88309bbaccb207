"""The document registry: one row per (document, collection), in SQLite (one machine) or PostgreSQL (a team)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from storage.database import Database, Row
from storage.records import DocState, DocumentRecord

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
    def exclusive(self, name: str) -> AbstractContextManager[None]: ...


class SqlRegistry:
    """The registry over a Database: safe to share between threads, and between processes (SQLite's file locks,
    or PostgreSQL's transactions)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction("schema"):  # one process at a time: two opening a fresh database would both add columns
            present = db.columns("documents")
            for column, kind in _VERSION_COLUMNS.items():
                if column not in present:
                    db.execute(f"ALTER TABLE documents ADD COLUMN {column} {kind}")
            if "source_key" not in present:
                db.execute("UPDATE documents SET source_key = file_name")
            db.execute("CREATE INDEX IF NOT EXISTS documents_source ON documents(collection, source_key)")

    @staticmethod
    def _record(row: Row) -> DocumentRecord:
        values: dict[str, Any] = dict(row)
        values["state"] = DocState(values["state"])
        values["current"] = bool(values["current"])
        values["ocr_pages"] = tuple(int(p) for p in values["ocr_pages"].split(",") if p)
        return DocumentRecord(**values)

    def _select(self, where: str, params: Sequence[Any], order: str = "collection, file_name") -> list[DocumentRecord]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM documents WHERE {where} ORDER BY {order}", params)
        return [self._record(r) for r in rows]

    def get(self, collection: str, document_id: str) -> DocumentRecord | None:
        found = self._select("collection = ? AND id = ?", (collection, document_id))
        return found[0] if found else None

    def find(self, document_id: str) -> list[DocumentRecord]:
        """Every collection's record of a document id (or of an id prefix of at least 8 characters)."""
        if len(document_id) < 8 or not document_id.isalnum():
            return self._select("id = ?", (document_id,))
        return self._select("id LIKE ?", (document_id + "%",))

    def begin(self, record: DocumentRecord) -> None:
        """Insert or reset a document to `pending` (not current) before any of its chunks are stored."""
        now = _now()
        self.db.execute(
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
        with self.db.transaction("documents") as db:
            db.execute(
                "UPDATE documents SET state = ?, reason = ?, pages = ?, chunks = ?, characters = ?, "
                "ocr_pages = ?, updated_at = ? WHERE collection = ? AND id = ?",
                (state.value, reason, pages, chunks, characters, ",".join(map(str, ocr_pages)), _now(),
                 collection, document_id),
            )
            if state is DocState.INDEXED:
                self._make_current(db, collection, document_id)

    @staticmethod
    def _make_current(db: Database, collection: str, document_id: str) -> None:
        key = db.execute("SELECT source_key FROM documents WHERE collection = ? AND id = ?", (collection, document_id))
        if not key:
            return
        source = key[0]["source_key"]
        [newest] = db.execute(
            "SELECT coalesce(max(version), 0) AS v FROM documents WHERE collection = ? AND source_key = ? "
            "AND id != ? AND state = 'indexed'", (collection, source, document_id))
        db.execute("UPDATE documents SET current = 0 WHERE collection = ? AND source_key = ? AND id != ?",
                   (collection, source, document_id))
        db.execute("UPDATE documents SET current = 1, version = ? WHERE collection = ? AND id = ?",
                   (int(newest["v"]) + 1, collection, document_id))

    def make_current(self, collection: str, document_id: str) -> None:
        """Make an earlier indexed version current again (its file came back), as the newest version."""
        with self.db.transaction("documents") as db:
            self._make_current(db, collection, document_id)

    def versions(self, collection: str, source_key: str) -> list[DocumentRecord]:
        """Every version of one source, newest first."""
        return self._select("collection = ? AND source_key = ?", (collection, source_key), "version DESC")

    def set_effective_date(self, collection: str, document_id: str, date: str) -> None:
        self.db.execute("UPDATE documents SET effective_date = ?, updated_at = ? WHERE collection = ? AND id = ?",
                        (date, _now(), collection, document_id))

    def documents(self, collection: str | None = None, state: DocState | None = None) -> list[DocumentRecord]:
        where, params = "1 = 1", []
        if collection is not None:
            where += " AND collection = ?"
            params.append(collection)
        if state is not None:
            where += " AND state = ?"
            params.append(state.value)
        return self._select(where, params)

    def delete(self, collection: str, document_id: str) -> None:
        self.db.execute("DELETE FROM documents WHERE collection = ? AND id = ?", (collection, document_id))

    def collections(self) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT collection FROM documents ORDER BY collection")
        return [r["collection"] for r in rows]

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Held while one process ingests, so processes sharing a PostgreSQL registry never index a file twice."""
        return self.db.advisory_lock(name)

    def close(self) -> None:
        self.db.close()


class SqliteRegistry(SqlRegistry):
    def __init__(self, path: Path) -> None:
        super().__init__(Database.sqlite(path, _SCHEMA))


class PostgresRegistry(SqlRegistry):
    def __init__(self, url: str) -> None:
        super().__init__(Database.postgres(url, _SCHEMA))
