"""Records an earlier Confidant kept in files of its own, moved into the records database once.

Before one records database held everything, accounts and the audit log lived in `accounts.sqlite3` and
`audit.sqlite3` beside the registry, and a team's PostgreSQL held only the document registry (collection settings
and feedback stayed in the node's `registry.sqlite3`). On first open, each such file's rows are copied into the
records database in one transaction, and the file is renamed `<name>.adopted` (kept, so nothing is lost, and never
read again). Rows whose key the records database already has are kept as they are there (a user that another node
already created wins); API tokens get new ids (their secrets are unchanged). Two processes starting at once do not
both copy: the copy runs in a write transaction, which checks again that the file is still there.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from storage.sql import (
    audit,
    audit_collections,
    collection_settings,
    feedback,
    memberships,
    tokens,
    users,
    writing,
)

log = logging.getLogger(__name__)
ADOPTED = ".adopted"


@contextmanager
def _legacy(path: Path) -> Iterator[sqlite3.Connection | None]:
    """The earlier file, opened, or None when it is gone or is a records database already."""
    if not path.is_file():
        yield None
        return
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        conn.row_factory = sqlite3.Row
        if "alembic_version" in _tables(conn):
            yield None
            return
        conn.execute("PRAGMA journal_mode=DELETE")  # folds its write-ahead log in: the file alone holds every row
        yield conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _accounts(old: sqlite3.Connection, new: Connection) -> int:
    have = set(new.execute(select(users.c.username)).scalars())
    rows = [dict(r) for r in old.execute("SELECT * FROM users")]
    fresh = [r for r in rows if r["username"] not in have]
    if fresh:
        new.execute(users.insert(), [{"username": r["username"], "password_hash": r["password_hash"],
                                      "role": r["role"], "created_at": r["created_at"],
                                      "disabled": r.get("disabled", 0)} for r in fresh])
    names = {r["username"] for r in fresh}
    if "memberships" in _tables(old):
        member = [{"username": r["username"], "collection": r["collection"]}
                  for r in old.execute("SELECT username, collection FROM memberships") if r["username"] in names]
        if member:
            new.execute(memberships.insert(), member)
    if "tokens" in _tables(old):
        known = set(new.execute(select(tokens.c.digest)).scalars())
        issued = [{k: r[k] for k in ("digest", "prefix", "username", "label", "created_at", "expires_at", "revoked")}
                  for r in old.execute("SELECT * FROM tokens") if r["digest"] not in known]
        if issued:
            new.execute(tokens.insert(), issued)
    return len(fresh)


def _audit(old: sqlite3.Connection, new: Connection) -> int:
    rows = [dict(r) for r in old.execute("SELECT * FROM audit ORDER BY id")]
    for r in rows:
        event_id = new.execute(audit.insert().values(
            {k: r[k] for k in ("at", "user", "action", "collections", "question", "documents", "model", "detail",
                               "client")}).returning(audit.c.id)).scalar_one()
        names = list(dict.fromkeys(json.loads(r["collections"] or "[]")))
        if names:
            new.execute(audit_collections.insert(), [{"event_id": event_id, "collection": n} for n in names])
    return len(rows)


def _registry_extras(old: sqlite3.Connection, new: Connection) -> int:
    """Collection settings and feedback of a node's registry file (the documents stay: they were indexed there)."""
    moved = 0
    tables = _tables(old)
    if "collection_settings" in tables:
        have = set(new.execute(select(collection_settings.c.name)).scalars())
        rows = [dict(r) for r in old.execute("SELECT name, title, instructions, starters FROM collection_settings")
                if r["name"] not in have]
        if rows:
            new.execute(collection_settings.insert(), rows)
        moved += len(rows)
    if "feedback" in tables:
        rows = [dict(r) for r in old.execute(
            "SELECT question, answer, citations, rating, comment, created_at FROM feedback ORDER BY id")]
        if rows:
            new.execute(feedback.insert(), rows)
        moved += len(rows)
    return moved


def adopt_files(engine: Engine, accounts: Path, audit_log: Path, registry: Path | None = None) -> dict[str, int]:
    """Move the rows of earlier separate files into the records database; returns rows moved per file.
    `registry` is the node's registry file when the records database is elsewhere (PostgreSQL)."""
    steps: list[tuple[Path, Callable[[sqlite3.Connection, Connection], int]]] = [
        (accounts, _accounts), (audit_log, _audit)]
    if registry is not None:
        steps.append((registry, _registry_extras))
    moved: dict[str, int] = {}
    for path, copy in steps:
        if not path.is_file():
            continue
        with writing(engine, "adopt") as new, _legacy(path) as old:  # looked at under the write lock
            if old is None:  # another process moved it first, or it is a records database of its own
                continue
            moved[path.name] = copy(old, new)
            old.close()
            path.rename(path.with_name(path.name + ADOPTED))
        log.info("moved %d row(s) of %s into the records database", moved[path.name], path)
    return moved
