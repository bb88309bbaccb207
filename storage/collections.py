"""Per-collection assistant settings (title, instructions, starter questions), in the records database."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select

from storage.sql import collection_settings, open_records, reading, writing

C = collection_settings.c

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

    def __init__(self, records: Engine | Path) -> None:
        self._owns_engine = not isinstance(records, Engine)
        self.engine = open_records(records) if isinstance(records, Path) else records

    def get(self, name: str) -> CollectionSettings:
        with reading(self.engine) as conn:
            row = conn.execute(select(collection_settings).where(C.name == name)).mappings().first()
        if row is None:
            return CollectionSettings(name)
        return CollectionSettings(row["name"], row["title"], row["instructions"],
                                  [str(s) for s in json.loads(row["starters"])])

    def put(self, settings: CollectionSettings) -> None:
        starters = [s.strip() for s in settings.starters if s.strip()]
        values = {"title": settings.title.strip(), "instructions": settings.instructions.strip(),
                  "starters": json.dumps(starters)}
        with writing(self.engine) as conn:
            if conn.execute(collection_settings.update().where(C.name == settings.name).values(values)).rowcount == 0:
                conn.execute(collection_settings.insert().values(name=settings.name, **values))

    def names(self) -> list[str]:
        with reading(self.engine) as conn:
            return list(conn.execute(select(C.name).order_by(C.name)).scalars())

    def delete(self, name: str) -> None:
        with writing(self.engine) as conn:
            conn.execute(collection_settings.delete().where(C.name == name))

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()
