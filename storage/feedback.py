"""Thumbs up/down with a comment on answers, so answers marked wrong become evaluation questions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, select

from storage.sql import feedback, open_records, reading, writing

Rating = Literal["up", "down"]

F = feedback.c


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
    """The `feedback` table in the records database."""

    def __init__(self, records: Engine | Path) -> None:
        self._owns_engine = not isinstance(records, Engine)
        self.engine = open_records(records) if isinstance(records, Path) else records

    def add(self, question: str, answer: str, citations: list[dict[str, object]], rating: Rating,
            comment: str = "") -> int:
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with writing(self.engine) as conn:
            return int(conn.execute(feedback.insert().values(
                question=question, answer=answer, citations=json.dumps(citations), rating=rating,
                comment=comment.strip(), created_at=now).returning(F.id)).scalar_one())

    def all(self, rating: Rating | None = None) -> list[Feedback]:
        query = select(F.id, F.question, F.answer, F.citations, F.rating, F.comment, F.created_at).order_by(F.id)
        if rating is not None:
            query = query.where(F.rating == rating)
        with reading(self.engine) as conn:
            rows = conn.execute(query).all()
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
        if self._owns_engine:
            self.engine.dispose()
