"""The audit log: who did what, when, on which collections — in the records database (storage/sql.py), so every app
node of a team writes to one log."""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, TextIO

from sqlalchemy import Engine, and_, exists, func, not_, select, true
from sqlalchemy.sql.elements import ColumnElement

from storage.sql import audit, audit_collections, open_records, reading, writing

QUESTION_CAP = 4000
DETAIL_CAP = 1000
SHORT_CAP = 200  # user, action, model, client
NAME_CAP = 500  # each collection or document name

CSV_HEADER = ("at", "user", "client", "action", "collections", "documents", "question", "model", "detail")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

A, AC = audit.c, audit_collections.c


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


class SqlAudit:
    """The audit log over the records database; safe to share between threads, processes and app nodes."""

    def __init__(self, engine: Engine, *, owns_engine: bool = False) -> None:
        self.engine = engine
        self._owns_engine = owns_engine

    def record(self, event: AuditEvent) -> None:
        """Append one event (its `id` is ignored; long text is capped, odd characters are made storable)."""
        names = _names(event.collections)
        values = {
            "at": _normalise_at(event.at), "user": _text(event.user, SHORT_CAP, strip=True),
            "action": _text(event.action, SHORT_CAP, strip=True),
            "collections": json.dumps(list(names), ensure_ascii=False), "question": _text(event.question, QUESTION_CAP),
            "documents": json.dumps(list(_names(event.documents)), ensure_ascii=False),
            "model": _text(event.model, SHORT_CAP, strip=True), "detail": _text(event.detail, DETAIL_CAP),
            "client": _text(event.client, SHORT_CAP, strip=True),
        }
        with writing(self.engine) as conn:
            event_id = conn.execute(audit.insert().values(values).returning(A.id)).scalar_one()
            if names:
                conn.execute(audit_collections.insert(), [{"event_id": event_id, "collection": name}
                                                          for name in dict.fromkeys(names)])

    def events(self, *, since: datetime | None = None, until: datetime | None = None, user: str | None = None,
               action: str | None = None, collections: Collection[str] | None = None,
               include_global: bool = False, limit: int | None = 1000) -> list[AuditEvent]:
        """Matching events, newest first.

        `since` is inclusive and `until` exclusive. With `collections`, only events whose collections all lie in
        that set; events that touched no collection are included only with `include_global=True`.
        `limit=None` means no limit.
        """
        query = select(audit).where(self._where(since, until, user, action, collections, include_global))
        query = query.order_by(A.at.desc(), A.id.desc())
        if limit is not None:
            if limit < 0:
                raise ValueError(f"limit must be >= 0, not {limit}")
            query = query.limit(limit)
        with reading(self.engine) as conn:
            rows = conn.execute(query).mappings().all()
        return [AuditEvent(at=r["at"], user=r["user"], action=r["action"],
                           collections=tuple(json.loads(r["collections"])), question=r["question"],
                           documents=tuple(json.loads(r["documents"])), model=r["model"], detail=r["detail"],
                           client=r["client"], id=int(r["id"])) for r in rows]

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
        with writing(self.engine) as conn:
            old = select(A.id).where(A.at < cutoff)
            conn.execute(audit_collections.delete().where(AC.event_id.in_(old)))
            return int(conn.execute(audit.delete().where(A.at < cutoff)).rowcount)

    def count(self) -> int:
        with reading(self.engine) as conn:
            return int(conn.execute(select(func.count()).select_from(audit)).scalar_one())

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    @staticmethod
    def _where(since: datetime | None, until: datetime | None, user: str | None, action: str | None,
               collections: Collection[str] | None, include_global: bool) -> ColumnElement[bool]:
        clauses: list[ColumnElement[bool]] = [true()]
        if since is not None:
            clauses.append(A.at >= _stamp(since))
        if until is not None:
            clauses.append(A.at < _stamp(until))
        if user is not None:
            clauses.append(A.user == _text(user, SHORT_CAP, strip=True))
        if action is not None:
            clauses.append(A.action == _text(action, SHORT_CAP, strip=True))
        if collections is not None:
            allowed = sorted(set(_names(collections)))
            outside = exists().where(AC.event_id == A.id, AC.collection.not_in(allowed))
            clauses.append(not_(outside))
            if not include_global:
                clauses.append(exists().where(AC.event_id == A.id))
        return and_(*clauses)


def SqliteAudit(path: Path) -> SqlAudit:  # noqa: N802 - a constructor by another name
    """An audit log in a records database of its own (a SQLite file): tests and tools."""
    return SqlAudit(open_records(path), owns_engine=True)
