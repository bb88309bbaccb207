"""One SQL connection for the stores that may live in SQLite (one machine) or PostgreSQL (a team's server).

SQL is written once, with `?` placeholders and portable statements; the PostgreSQL side translates placeholders.
The connection is shared between threads under a lock; `transaction()` makes a batch atomic and, on PostgreSQL,
serialises it against other processes through a transaction-scoped advisory lock.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from storage.sqlite import open_database

Dialect = Literal["sqlite", "postgres"]
Row = dict[str, Any]

_PLACEHOLDER = re.compile(r"\?")


class Database:
    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self._conn = connection
        self.dialect = dialect
        self._lock = threading.RLock()

    @classmethod
    def sqlite(cls, path: Path, schema: str) -> Database:
        conn = open_database(path, schema)
        conn.row_factory = sqlite3.Row
        return cls(conn, "sqlite")

    @classmethod
    def postgres(cls, url: str, schema: str) -> Database:
        import psycopg
        from psycopg.rows import dict_row

        conn = psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=10)
        db = cls(conn, "postgres")
        with db.transaction("schema"):
            for statement in filter(str.strip, schema.split(";")):
                db.execute(statement)
        return db

    def _sql(self, sql: str) -> str:
        if self.dialect == "sqlite":
            return sql
        return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement; rows as dicts (empty for statements without a result)."""
        with self._lock:
            cur = self._conn.execute(self._sql(sql), tuple(params))
            rows = cur.fetchall() if cur.description is not None else []
        return [dict(r) for r in rows]

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a change; the number of rows it touched."""
        with self._lock:
            return int(self._conn.execute(self._sql(sql), tuple(params)).rowcount)

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with self._lock:
            if self.dialect == "sqlite":
                self._conn.executemany(sql, rows)
            else:
                with self._conn.cursor() as cur:
                    cur.executemany(self._sql(sql), [tuple(r) for r in rows])

    @contextmanager
    def transaction(self, name: str = "") -> Iterator[Database]:
        """An atomic batch. On SQLite it takes the write lock at once; on PostgreSQL it also waits for other
        processes' transactions of the same `name` (an advisory lock), so read-then-write steps cannot race."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
            try:
                if self.dialect == "postgres" and name:
                    self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(name.encode()),))
                yield self
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def advisory_lock(self, name: str) -> Iterator[None]:
        """A lock held across transactions, shared by every process using this PostgreSQL database (a no-op on
        SQLite, whose callers use a file lock in the data folder)."""
        if self.dialect != "postgres":
            yield
            return
        key = zlib.crc32(name.encode())
        self.execute("SELECT pg_advisory_lock(?)", (key,))
        try:
            yield
        finally:
            self.execute("SELECT pg_advisory_unlock(?)", (key,))

    def columns(self, table: str) -> set[str]:
        if self.dialect == "sqlite":
            return {r["name"] for r in self.execute(f"PRAGMA table_info({table})")}
        return {r["column_name"] for r in self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", (table,))}

    def close(self) -> None:
        with self._lock:
            self._conn.close()
