"""A review grid written out for the team: CSV (one row per document: `file`, then per question the short answer,
`<question> — quote`, `<question> — page`, `<question> — state`; scripts rely on these columns), XLSX (the same
columns, a reviewed cell's model answer and reviewer as a comment, states coloured) and JSON."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from rag.grid import CellState, Grid, GridCell

SUFFIXES = ("quote", "page", "state")
FILLS = {CellState.ANSWERED: "E2F0D9", CellState.NOT_FOUND: "EDEDED", CellState.NEEDS_REVIEW: "FFF2CC",
         CellState.REVIEWED: "DDEBF7"}


def header(grid: Grid) -> list[str]:
    return ["file", *[col for q in grid.questions for col in (q, *(f"{q} — {s}" for s in SUFFIXES))]]


def _values(cell: GridCell | None) -> list[object]:
    if cell is None:
        return ["", "", "", ""]
    return [cell.shown_answer, cell.quote, cell.page if cell.page is not None else "", cell.shown_state.value]


def rows(grid: Grid) -> Iterator[tuple[str, list[GridCell | None], list[object]]]:
    """(file, the row's cells, the row's values after `file`) per document."""
    for doc_id, file_name in grid.documents:
        cells = [grid.cell(doc_id, q) for q in grid.questions]
        yield file_name, cells, [v for c in cells for v in _values(c)]


def write_csv(grid: Grid, out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(header(grid))
    for file_name, _, values in rows(grid):
        writer.writerow([file_name, *values])


def write_xlsx(grid: Grid, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Review grid"
    sheet.append(header(grid))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for r, (file_name, cells, values) in enumerate(rows(grid), start=2):
        sheet.append([file_name, *values])
        for i, grid_cell in enumerate(cells):
            if grid_cell is None:
                continue
            answer_col = 2 + i * (1 + len(SUFFIXES))
            fill = PatternFill("solid", fgColor=FILLS[grid_cell.shown_state])
            for col in range(answer_col, answer_col + 1 + len(SUFFIXES)):
                sheet.cell(r, col).alignment = Alignment(wrap_text=True, vertical="top")
            sheet.cell(r, answer_col + len(SUFFIXES)).fill = fill
            sheet.cell(r, answer_col).fill = fill
            if grid_cell.reviewed_by:
                sheet.cell(r, answer_col).comment = Comment(
                    f"Reviewed by {grid_cell.reviewed_by}. The model's answer ({grid_cell.state.value}): "
                    f"{grid_cell.answer or '—'}", grid_cell.reviewed_by)
    sheet.freeze_panes = "B2"
    sheet.column_dimensions["A"].width = 36
    book.save(path)


def write_json(grid: Grid, out: TextIO) -> None:
    out.write(json.dumps(grid.as_json(), ensure_ascii=False, indent=2) + "\n")
