"""Thumbs up/down with a comment on answers, so answers marked wrong become evaluation questions."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from storage.sqlite import open_database

Rating = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    citations  TEXT NOT NULL DEFAULT '[]',
    rating     TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment    TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Feedback:
    id: int
    question: str
    answer: str
    citations: list[dict[str, object]]
    rating: Rating
    comment: str
    created_at: str


class FeedbackStore:
    """The `feedback` table in the registry's SQLite file."""

    def __init__(self, path: Path) -> None:
        self._conn = open_database(path, _SCHEMA)
        self._lock = threading.Lock()

    def add(self, question: str, answer: str, citations: list[dict[str, object]], rating: Rating,
            comment: str = "") -> int:
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO feedback (question, answer, citations, rating, comment, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (question, answer, json.dumps(citations), rating, comment.strip(), now),
            )
            return int(cur.lastrowid or 0)

    def all(self, rating: Rating | None = None) -> list[Feedback]:
        query = "SELECT id, question, answer, citations, rating, comment, created_at FROM feedback"
        params: tuple[str, ...] = ()
        if rating is not None:
            query += " WHERE rating = ?"
            params = (rating,)
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY id", params).fetchall()
        return [Feedback(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6]) for r in rows]

    def eval_questions_jsonl(self) -> str:
        """Answers marked wrong, one evaluation question per line (same fields as ../shared/eval questions)."""
        lines = []
        for f in self.all("down"):
            evidence = [{"file": c.get("file"), "page": c.get("page")} for c in f.citations]
            lines.append(json.dumps({
                "id": f"feedback-{f.id}", "question": f.question, "answer": "", "wrong_answer": f.answer,
                "comment": f.comment, "evidence": evidence, "answerable": None, "created_at": f.created_at,
            }))
        return "".join(line + "\n" for line in lines)

    def close(self) -> None:
        self._conn.close()
