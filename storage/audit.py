"""The audit log for shared (intranet) mode: who did what, when, on which collections — kept in SQLite."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, TextIO

from storage.sqlite import open_database

QUESTION_CAP = 4000
DETAIL_CAP = 1000
SHORT_CAP = 200  # user, action, model, client
NAME_CAP = 500  # each collection or document name

CSV_HEADER = ("at", "user", "client", "action", "collections", "documents", "question", "model", "detail")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    user        TEXT NOT NULL,
    action      TEXT NOT NULL,
    collections TEXT NOT NULL DEFAULT '[]',
    question    TEXT NOT NULL DEFAULT '',
    documents   TEXT NOT NULL DEFAULT '[]',
    model       TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    client      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
CREATE INDEX IF NOT EXISTS audit_user ON audit(user, at);
"""

_COLUMNS = "id, at, user, action, collections, question, documents, model, detail, client"


@dataclass(frozen=True)
class AuditEvent:
    """One thing a user did. `at` is ISO-8601 UTC; leave it empty and the store stamps the current time."""

    at: str
    user: str
    action: str
    collections: tuple[str, ...]
    question: str = ""
    documents: tuple[str, ...] = ()
    model: str = ""
    detail: str = ""
    client: str = ""
    id: int = 0


class AuditLog(Protocol):
    """Remembers who did what, when, and on which collections."""

    def record(self, event: AuditEvent) -> None: ...
    def events(self, *, since: datetime | None = None, until: datetime | None = None, user: str | None = None,
               action: str | None = None, collections: Collection[str] | None = None,
               include_global: bool = False, limit: int | None = 1000) -> list[AuditEvent]: ...
    def export_csv(self, destination: TextIO, *, since: datetime | None = None, until: datetime | None = None,
                   user: str | None = None, action: str | None = None, collections: Collection[str] | None = None,
                   include_global: bool = False, limit: int | None = None) -> int: ...
    def prune(self, retention_days: int, *, now: datetime | None = None) -> int: ...
    def count(self) -> int: ...
    def close(self) -> None: ...


def _stamp(moment: datetime) -> str:
    """Fixed-width UTC text, so that comparing strings compares instants (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _normalise_at(at: str) -> str:
    if not at.strip():
        return _stamp(datetime.now(UTC))
    text = at.strip()
    try:
        return _stamp(datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text))
    except ValueError as exc:
        raise ValueError(f"AuditEvent.at must be ISO-8601 or empty, not {at!r}") from exc


def _text(value: object, cap: int, *, strip: bool = False) -> str:
    """Any value as storable text: no NUL, no lone surrogates, at most `cap` characters (cut text ends in '…')."""
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if strip:
        text = text.strip()
    return text if len(text) <= cap else text[: cap - 1] + "…"


def _names(values: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(values, str):  # a lone name, not its characters
        values = (values,)
    return tuple(_text(v, NAME_CAP, strip=True) for v in values)


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will show as text, never evaluate as a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


class SqliteAudit:
    """Audit log in a SQLite file; safe to share between threads of one process and between processes."""

    def __init__(self, path: Path) -> None:
        self._conn = open_database(path, _SCHEMA)
        self._lock = threading.Lock()

    def record(self, event: AuditEvent) -> None:
        """Append one event (its `id` is ignored; long text is capped, odd characters are made storable)."""
        row = (
            _normalise_at(event.at),
            _text(event.user, SHORT_CAP, strip=True),
            _text(event.action, SHORT_CAP, strip=True),
            json.dumps(list(_names(event.collections)), ensure_ascii=False),
            _text(event.question, QUESTION_CAP),
            json.dumps(list(_names(event.documents)), ensure_ascii=False),
            _text(event.model, SHORT_CAP, strip=True),
            _text(event.detail, DETAIL_CAP),
            _text(event.client, SHORT_CAP, strip=True),
        )
        with self._lock:
            self._conn.execute(
                "INSERT INTO audit (at, user, action, collections, question, documents, model, detail, client) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def events(self, *, since: datetime | None = None, until: datetime | None = None, user: str | None = None,
               action: str | None = None, collections: Collection[str] | None = None,
               include_global: bool = False, limit: int | None = 1000) -> list[AuditEvent]:
        """Matching events, newest first.

        `since` is inclusive and `until` exclusive. With `collections`, only events whose collections all lie in
        that set; events that touched no collection are included only with `include_global=True`.
        `limit=None` means no limit.
        """
        where, params = self._where(since, until, user, action, collections, include_global)
        query = f"SELECT {_COLUMNS} FROM audit WHERE {where} ORDER BY at DESC, id DESC"
        if limit is not None:
            if limit < 0:
                raise ValueError(f"limit must be >= 0, not {limit}")
            query += " LIMIT ?"
            params.append(limit)
        with self._lock:
            rows = self._conn.execute(query, params).fetchall()
        return [self._event(r) for r in rows]

    def export_csv(self, destination: TextIO, *, since: datetime | None = None, until: datetime | None = None,
                   user: str | None = None, action: str | None = None, collections: Collection[str] | None = None,
                   include_global: bool = False, limit: int | None = None) -> int:
        """Write matching events (newest first, under a header row) as CSV; returns the number of event rows.

        Open `destination` with `newline=""`. Cells that a spreadsheet would run as a formula get a leading "'".
        """
        found = self.events(since=since, until=until, user=user, action=action, collections=collections,
                            include_global=include_global, limit=limit)
        writer = csv.writer(destination)
        writer.writerow(CSV_HEADER)
        for e in found:
            cells = (e.at, e.user, e.client, e.action, "; ".join(e.collections), "; ".join(e.documents),
                     e.question, e.model, e.detail)
            writer.writerow([_cell(c) for c in cells])
        return len(found)

    def prune(self, retention_days: int, *, now: datetime | None = None) -> int:
        """Delete events older than `retention_days` before `now`; returns how many were deleted."""
        if retention_days < 0:
            raise ValueError(f"retention_days must be >= 0, not {retention_days}")
        cutoff = _stamp((now or datetime.now(UTC)) - timedelta(days=retention_days))
        with self._lock:
            cur = self._conn.execute("DELETE FROM audit WHERE at < ?", (cutoff,))
        return cur.rowcount

    def count(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*) FROM audit").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @staticmethod
    def _where(since: datetime | None, until: datetime | None, user: str | None, action: str | None,
               collections: Collection[str] | None, include_global: bool) -> tuple[str, list[object]]:
        clauses: list[str] = ["1 = 1"]
        params: list[object] = []
        if since is not None:
            clauses.append("at >= ?")
            params.append(_stamp(since))
        if until is not None:
            clauses.append("at < ?")
            params.append(_stamp(until))
        if user is not None:
            clauses.append("user = ?")
            params.append(_text(user, SHORT_CAP, strip=True))
        if action is not None:
            clauses.append("action = ?")
            params.append(_text(action, SHORT_CAP, strip=True))
        if collections is not None:
            allowed = json.dumps(sorted(_names(collections)), ensure_ascii=False)
            inside = ("NOT EXISTS (SELECT 1 FROM json_each(audit.collections) AS c "
                      "WHERE c.value NOT IN (SELECT value FROM json_each(?)))")
            if include_global:
                clauses.append(inside)
            else:
                clauses.append(f"({inside} AND json_array_length(audit.collections) > 0)")
            params.append(allowed)
        return " AND ".join(clauses), params

    @staticmethod
    def _event(row: tuple[object, ...]) -> AuditEvent:
        id_, at, user, action, collections, question, documents, model, detail, client = row
        return AuditEvent(
            at=str(at), user=str(user), action=str(action), collections=tuple(json.loads(str(collections))),
            question=str(question), documents=tuple(json.loads(str(documents))), model=str(model),
            detail=str(detail), client=str(client), id=int(str(id_)),
        )
