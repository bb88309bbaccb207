"""The document registry: one row per (document, collection), in the records database (storage/sql.py): a SQLite
file on one machine, or a team's PostgreSQL server shared by every app node."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, RowMapping, and_, exists, func, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from storage.records import DocState, DocumentRecord
from storage.sql import documents, held_lock, is_sqlite, open_records, reading, writing

D = documents.c


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Registry(Protocol):
    """Remembers documents and their states."""

    def get(self, collection: str, document_id: str) -> DocumentRecord | None: ...
    def find(self, document_id: str) -> list[DocumentRecord]: ...
    def begin(self, record: DocumentRecord) -> None: ...
    def finish(self, collection: str, document_id: str, state: DocState, reason: str = "", *,
               pages: int = 0, chunks: int = 0, characters: int = 0, ocr_pages: Sequence[int] = (),
               pictures_pending: bool = False) -> None: ...
    def add_pictures(self, collection: str, document_id: str, chunks_before: int, chunks: int, reason: str,
                     ocr_pages: Sequence[int]) -> bool: ...
    def awaiting_pictures(self) -> list[DocumentRecord]: ...
    def make_current(self, collection: str, document_id: str) -> None: ...
    def set_embedded(self, collection: str, document_id: str, embedded: int) -> bool: ...
    def awaiting_vectors(self) -> list[DocumentRecord]: ...
    def versions(self, collection: str, source_key: str) -> list[DocumentRecord]: ...
    def set_effective_date(self, collection: str, document_id: str, date: str) -> None: ...
    def documents(self, collection: str | None = None, state: DocState | None = None) -> list[DocumentRecord]: ...
    def delete(self, collection: str, document_id: str) -> None: ...
    def has_indexed(self, collections: Sequence[str]) -> bool: ...
    def collections(self) -> list[str]: ...
    def exclusive(self, name: str) -> AbstractContextManager[None]: ...


class SqlRegistry:
    """The registry over the records database: safe to share between threads, and between processes (SQLite's
    file locks, or PostgreSQL's transactions and advisory locks)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def _record(row: RowMapping) -> DocumentRecord:
        values: dict[str, Any] = dict(row)
        values["state"] = DocState(values["state"])
        values["current"] = bool(values["current"])
        values["ocr_pages"] = tuple(int(p) for p in values["ocr_pages"].split(",") if p)
        values["pictures_pending"] = bool(values["pictures_pending"])
        return DocumentRecord(**values)

    def _select(self, where: ColumnElement[bool], order: Sequence[Any] = (D.collection, D.file_name)
                ) -> list[DocumentRecord]:
        with reading(self.engine) as conn:
            rows = conn.execute(select(documents).where(where).order_by(*order)).mappings().all()
        return [self._record(r) for r in rows]

    def get(self, collection: str, document_id: str) -> DocumentRecord | None:
        found = self._select(and_(D.collection == collection, D.id == document_id))
        return found[0] if found else None

    def find(self, document_id: str) -> list[DocumentRecord]:
        """Every collection's record of a document id (or of an id prefix of at least 8 characters)."""
        if len(document_id) < 8 or not document_id.isalnum():
            return self._select(D.id == document_id)
        return self._select(D.id.startswith(document_id, autoescape=True))

    def begin(self, record: DocumentRecord) -> None:
        """Insert or reset a document to `pending` (not current) before any of its chunks are stored."""
        now = _now()
        values = {"id": record.id, "collection": record.collection, "file_name": record.file_name,
                  "source_path": record.source_path, "bytes": record.bytes, "state": DocState.PENDING.value,
                  "reason": "", "pages": 0, "chunks": 0, "characters": 0, "created_at": now, "updated_at": now,
                  "source_key": record.source_key or record.file_name, "version": 1, "current": 0,
                  "effective_date": record.effective_date, "ocr_pages": "", "embedded": 0,
                  "pictures_pending": 0}
        with writing(self.engine) as conn:
            insert = (sqlite_insert if is_sqlite(conn) else pg_insert)(documents).values(values)
            kept = ("id", "collection", "created_at", "version")
            conn.execute(insert.on_conflict_do_update(
                index_elements=[D.collection, D.id],
                set_={name: insert.excluded[name] for name in values if name not in kept}))

    def finish(self, collection: str, document_id: str, state: DocState, reason: str = "", *,
               pages: int = 0, chunks: int = 0, characters: int = 0, ocr_pages: Sequence[int] = (),
               pictures_pending: bool = False) -> None:
        """Record how a document ended. Becoming `indexed` makes it the current version of its source (the
        next version number; earlier versions stay searchable on request) in the same transaction."""
        with writing(self.engine, "documents") as conn:
            conn.execute(documents.update().where(D.collection == collection, D.id == document_id).values(
                state=state.value, reason=reason, pages=pages, chunks=chunks, characters=characters,
                ocr_pages=",".join(map(str, ocr_pages)), updated_at=_now(),
                pictures_pending=int(pictures_pending and state is DocState.INDEXED)))
            if state is DocState.INDEXED:
                self._make_current(conn, collection, document_id)

    @staticmethod
    def _make_current(conn: Connection, collection: str, document_id: str) -> None:
        source = conn.execute(select(D.source_key).where(D.collection == collection, D.id == document_id)).scalar()
        if source is None:
            return
        others = and_(D.collection == collection, D.source_key == source, D.id != document_id)
        newest = conn.execute(select(func.coalesce(func.max(D.version), 0)).where(
            others, D.state == DocState.INDEXED.value)).scalar_one()
        conn.execute(documents.update().where(others).values(current=0))
        conn.execute(documents.update().where(D.collection == collection, D.id == document_id).values(
            current=1, version=int(newest) + 1))

    def make_current(self, collection: str, document_id: str) -> None:
        """Make an earlier indexed version current again (its file came back), as the newest version."""
        with writing(self.engine, "documents") as conn:
            self._make_current(conn, collection, document_id)

    def set_embedded(self, collection: str, document_id: str, embedded: int) -> bool:
        """Record that the first `embedded` chunks of an indexed document have their vectors stored. False when the
        document is no longer indexed (deleted or being indexed again meanwhile): its vectors must not be kept."""
        with writing(self.engine) as conn:
            changed = conn.execute(documents.update().where(
                D.collection == collection, D.id == document_id, D.state == DocState.INDEXED.value).values(
                embedded=embedded)).rowcount
        return bool(changed)

    def awaiting_vectors(self) -> list[DocumentRecord]:
        """Indexed documents with chunks still waiting for their vectors, oldest first (the embedding queue)."""
        return self._select(and_(D.state == DocState.INDEXED.value, D.embedded < D.chunks),
                            (D.updated_at, D.collection, D.id))

    def awaiting_pictures(self) -> list[DocumentRecord]:
        """Indexed documents whose pictures are still to be read, oldest first."""
        return self._select(and_(D.state == DocState.INDEXED.value, D.pictures_pending == 1),
                            (D.updated_at, D.collection, D.id))

    def add_pictures(self, collection: str, document_id: str, chunks_before: int, chunks: int, reason: str,
                     ocr_pages: Sequence[int]) -> bool:
        """Record that a document's pictures are read: its chunks now number `chunks` (those of its pictures come
        after the `chunks_before` of its text). False, and nothing changed, when the document is no longer the
        indexed one with `chunks_before` chunks and pictures pending (deleted or read again meanwhile)."""
        with writing(self.engine) as conn:
            changed = conn.execute(documents.update().where(
                D.collection == collection, D.id == document_id, D.state == DocState.INDEXED.value,
                D.chunks == chunks_before, D.pictures_pending == 1).values(
                chunks=chunks, reason=reason, ocr_pages=",".join(map(str, ocr_pages)), pictures_pending=0)).rowcount
        return bool(changed)

    def versions(self, collection: str, source_key: str) -> list[DocumentRecord]:
        """Every version of one source, newest first."""
        return self._select(and_(D.collection == collection, D.source_key == source_key), (D.version.desc(),))

    def set_effective_date(self, collection: str, document_id: str, date: str) -> None:
        with writing(self.engine) as conn:
            conn.execute(documents.update().where(D.collection == collection, D.id == document_id).values(
                effective_date=date, updated_at=_now()))

    def documents(self, collection: str | None = None, state: DocState | None = None) -> list[DocumentRecord]:
        where: ColumnElement[bool] = true()
        if collection is not None:
            where = and_(where, D.collection == collection)
        if state is not None:
            where = and_(where, D.state == state.value)
        return self._select(where)

    def delete(self, collection: str, document_id: str) -> None:
        with writing(self.engine) as conn:
            conn.execute(documents.delete().where(D.collection == collection, D.id == document_id))

    def has_indexed(self, collections: Sequence[str]) -> bool:
        """Whether any of these collections holds an indexed document."""
        with reading(self.engine) as conn:
            return bool(conn.execute(select(exists().where(D.collection.in_(list(collections)),
                                                           D.state == DocState.INDEXED.value))).scalar())

    def collections(self) -> list[str]:
        with reading(self.engine) as conn:
            return list(conn.execute(select(D.collection).distinct().order_by(D.collection)).scalars())

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Held while one process ingests, so processes sharing a PostgreSQL registry never index a file twice."""
        return held_lock(self.engine, name)

    def close(self) -> None:
        self.engine.dispose()


def SqliteRegistry(path: Path) -> SqlRegistry:  # noqa: N802 - a constructor by another name
    """The registry in its own SQLite file (tests and tools; the app opens one records database for all stores)."""
    return SqlRegistry(open_records(path))


def PostgresRegistry(url: str) -> SqlRegistry:  # noqa: N802
    return SqlRegistry(open_records(url))
