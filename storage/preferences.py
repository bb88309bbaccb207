"""Preferences in the records database: per user (owner = the username) or for the whole site (owner ""), each a
JSON value under a key — which answer model a person chose, the administrator's default and allowed models, and
each model's measured speed."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from storage.sql import preferences, reading, writing

SITE = ""
P = preferences.c


class PreferenceStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, owner: str, key: str, default: Any = None) -> Any:
        with reading(self.engine) as conn:
            value = conn.execute(select(P.value).where(P.owner == owner, P.key == key)).scalar_one_or_none()
        return default if value is None else json.loads(value)

    def put(self, owner: str, key: str, value: Any) -> None:
        text = json.dumps(value)
        with writing(self.engine, "preferences") as conn:
            changed = conn.execute(update(preferences).where(P.owner == owner, P.key == key).values(value=text))
            if changed.rowcount == 0:
                conn.execute(insert(preferences).values(owner=owner, key=key, value=text))

    def remove(self, owner: str, key: str) -> None:
        with writing(self.engine) as conn:
            conn.execute(delete(preferences).where(P.owner == owner, P.key == key))
