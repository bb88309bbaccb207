"""Per-collection assistant settings (title, instructions, starter questions), kept in the registry's SQLite file."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from storage.sqlite import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS collection_settings (
    name         TEXT PRIMARY KEY,
    title        TEXT NOT NULL DEFAULT '',
    instructions TEXT NOT NULL DEFAULT '',
    starters     TEXT NOT NULL DEFAULT '[]'
);
"""

MAX_NAME = 64


@dataclass
class CollectionSettings:
    """How a collection presents itself as an assistant on the chat page."""

    name: str
    title: str = ""
    instructions: str = ""
    starters: list[str] = field(default_factory=list)

    @property
    def display_title(self) -> str:
        return self.title.strip() or self.name


def valid_collection_name(name: str) -> str | None:
    """Why a collection name is not acceptable, or None when it is."""
    if not name.strip():
        return "Give the collection a name."
    if len(name) > MAX_NAME:
        return f"Use at most {MAX_NAME} characters."
    if not all(ch.isalnum() or ch in "-_ ." for ch in name):
        return "Use letters, digits, spaces, '-', '_' or '.' only."
    return None


class CollectionSettingsStore:
    """The `collection_settings` table; a collection may exist here before it holds any document."""

    def __init__(self, path: Path) -> None:
        self._conn = open_database(path, _SCHEMA)
        self._lock = threading.Lock()

    def get(self, name: str) -> CollectionSettings:
        with self._lock:
            row = self._conn.execute(
                "SELECT name, title, instructions, starters FROM collection_settings WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            return CollectionSettings(name)
        return CollectionSettings(row[0], row[1], row[2], [str(s) for s in json.loads(row[3])])

    def put(self, settings: CollectionSettings) -> None:
        starters = [s.strip() for s in settings.starters if s.strip()]
        with self._lock:
            self._conn.execute(
                "INSERT INTO collection_settings (name, title, instructions, starters) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET title = excluded.title, instructions = excluded.instructions, "
                "starters = excluded.starters",
                (settings.name, settings.title.strip(), settings.instructions.strip(), json.dumps(starters)),
            )

    def names(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute("SELECT name FROM collection_settings ORDER BY name").fetchall()
        return [r[0] for r in rows]

    def delete(self, name: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM collection_settings WHERE name = ?", (name,))

    def close(self) -> None:
        self._conn.close()
