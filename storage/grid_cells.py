"""The review grid's cells in the records database: each stored as soon as it is answered, so a grid stopped
half-way (Ctrl-C, kill -9, a closed browser tab) resumes with the cells it has, and a document that changed (a new
version, a new reading) has only its own row answered again. A reviewer's correction is kept beside the answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select, update

from rag.grid import CellState, GridCell
from storage.sql import grid_cells, reading, writing

G = grid_cells.c


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class GridCellStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def cells(self, collection: str, document_ids: Sequence[str], questions: Sequence[str]) -> list[GridCell]:
        """The stored cells of these documents and questions (of whatever version they were answered for)."""
        if not document_ids or not questions:
            return []
        with reading(self.engine) as conn:
            rows = conn.execute(select(grid_cells).where(
                G.collection == collection, G.document_id.in_(list(document_ids)),
                G.question.in_(list(questions)))).mappings().all()
        return [GridCell(r["document_id"], r["file_name"], r["question"], r["answer"], r["quote"], r["page"],
                         CellState(r["state"]), r["model"], r["version"], float(r["seconds"]), r["start"], r["end"],
                         r["reviewed_answer"], r["reviewed_by"]) for r in rows]

    def put(self, collection: str, cell: GridCell) -> None:
        """Store a newly answered cell (a new version's answer replaces the old one, and its review)."""
        values = {"version": cell.version, "file_name": cell.file_name, "answer": cell.answer, "quote": cell.quote,
                  "page": cell.page, "start": cell.start, "end": cell.end, "state": cell.state.value,
                  "model": cell.model, "seconds": cell.seconds, "answered_at": _now(), "reviewed_answer": "",
                  "reviewed_by": "", "reviewed_at": ""}
        key = (G.collection == collection, G.document_id == cell.document_id, G.question == cell.question)
        with writing(self.engine, "grid_cells") as conn:
            if conn.execute(update(grid_cells).where(*key).values(**values)).rowcount == 0:
                conn.execute(insert(grid_cells).values(collection=collection, document_id=cell.document_id,
                                                       question=cell.question, **values))

    def review(self, collection: str, document_id: str, question: str, answer: str, by: str) -> bool:
        """Keep a reviewer's correction beside the model's answer; False when there is no such cell."""
        with writing(self.engine, "grid_cells") as conn:
            changed = conn.execute(update(grid_cells).where(
                G.collection == collection, G.document_id == document_id, G.question == question).values(
                reviewed_answer=answer, reviewed_by=by, reviewed_at=_now()))
        return changed.rowcount > 0

    def forget_document(self, collection: str, document_id: str) -> None:
        with writing(self.engine) as conn:
            conn.execute(delete(grid_cells).where(G.collection == collection, G.document_id == document_id))
