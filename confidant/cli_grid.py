"""`confidant grid`: the same questions asked of each document of a collection alone, as a table of cited short
answers, exported for the team (CSV, XLSX, JSON). Cells are kept as they are answered: Ctrl-C (or a kill) and the
same command again resumes; a changed document redoes only its row."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from confidant.access import AccessDenied
from confidant.cli_common import err, open_workspace, out
from confidant.grid_export import write_csv, write_json, write_xlsx
from confidant.limits import LimitExceeded
from confidant.progress_estimate import eta_clock
from confidant.workspace import Workspace
from rag.grid import CellState, Grid, GridCell, GridProgress

STYLE = {CellState.ANSWERED: "green", CellState.NOT_FOUND: "dim", CellState.NEEDS_REVIEW: "yellow",
         CellState.REVIEWED: "cyan"}


def questions_from(file: Path | None, questions: list[str], template: str | None, ws: Workspace,
                   collection: str) -> list[str]:
    asked = list(questions)
    if file is not None:
        asked += [line.strip() for line in file.read_text(encoding="utf-8").splitlines()
                  if line.strip() and not line.lstrip().startswith("#")]
    if template is not None:
        templates = ws.grid_templates(collection)
        if template not in templates:
            err.print(f"[red]No template {template!r}; there are: {', '.join(templates)}[/]")
            raise typer.Exit(2)
        asked += templates[template]
    if not asked:
        err.print("[red]Give the grid's questions: --question, --questions FILE or --template NAME.[/]")
        raise typer.Exit(2)
    return asked


def document_ids(ws: Workspace, prefixes: list[str], collection: str) -> list[str] | None:
    if not prefixes:
        return None
    ids: list[str] = []
    for prefix in prefixes:
        matches = {r.id for r in ws.find_documents(prefix, collection)}
        if len(matches) != 1:
            err.print(f"[red]{'No document' if not matches else 'Several documents'} match {prefix!r} in "
                      f"{collection}.[/]")
            raise typer.Exit(2)
        ids += matches
    return ids


def grid_command(
    collection: Annotated[str, typer.Option("--collection", "-c", help="The collection whose documents are rows.")],
    question: Annotated[list[str] | None, typer.Option("--question", "-q", help="A column (repeatable).")] = None,
    questions_file: Annotated[Path | None, typer.Option("--questions", help="A file of questions, one per line "
                                                        "(# starts a comment).", exists=True, dir_okay=False)] = None,
    template: Annotated[str | None, typer.Option("--template", "-t", help="A saved question set: 'contracts', "
                                                 "'hr-policies', or one saved for the collection.")] = None,
    documents: Annotated[list[str] | None, typer.Option("--documents", "-d", help="Only these documents (id or "
                                                         "its first 8+ characters; repeatable).")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write the grid as CSV ('-' for stdout).")] = None,
    xlsx_out: Annotated[Path | None, typer.Option("--xlsx", help="Write the grid as an Excel workbook.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the grid as JSON ('-' for stdout).")] = None,
    redo: Annotated[bool, typer.Option("--redo", help="Answer every cell again, even those kept from an earlier "
                                                      "run of the same document.")] = False,
) -> None:
    """Ask the same questions of every document in a collection, each answered from that document alone: a short
    answer, the sentence it rests on, its page and a state (answered / not found / needs review) per cell."""
    with open_workspace() as ws:
        try:
            asked = questions_from(questions_file, question or [], template, ws, collection)
            grid = _run(ws, collection, asked, document_ids(ws, documents or [], collection), redo)
        except (AccessDenied, LimitExceeded) as refused:
            err.print(f"[red]{refused}[/]")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("[yellow]Stopped. The cells answered so far are kept: run the same command to go on.[/]")
            raise typer.Exit(130) from None
    _write(grid, csv_out, xlsx_out, json_out)
    if not any(p is not None and str(p) == "-" for p in (csv_out, json_out)):
        out.print(_table(grid))
    counts = {s: sum(c.shown_state == s for c in grid.cells.values()) for s in CellState}
    err.print(f"{len(grid.documents)} documents × {len(grid.questions)} questions: "
              + ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
              + f" ({grid.answered} answered now, {len(grid.cells) - grid.answered} kept from an earlier run)",
              soft_wrap=True)


def _run(ws: Workspace, collection: str, questions: list[str], ids: list[str] | None, redo: bool) -> Grid:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[eta]}"))
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("Grid", total=None, eta="")

        def on_cell(cell: GridCell, step: GridProgress) -> None:
            bar.update(task, total=step.total, completed=step.done, description=f"{cell.file_name[:30]}",
                       eta=eta_clock(step.seconds_left) if step.done < step.total else "")

        return ws.grid(collection, questions, ids, on_cell=on_cell, redo=redo)


def _write(grid: Grid, csv_out: Path | None, xlsx_out: Path | None, json_out: Path | None) -> None:
    for path, write in ((csv_out, write_csv), (json_out, write_json)):
        if path is None:
            continue
        if str(path) == "-":
            write(grid, sys.stdout)
        else:
            with path.open("w", encoding="utf-8", newline="") as fh:
                write(grid, fh)
            err.print(f"Wrote {path}")
    if xlsx_out is not None:
        write_xlsx(grid, xlsx_out)
        err.print(f"Wrote {xlsx_out}")


def _table(grid: Grid) -> Table:
    table = Table(title="Review grid", show_lines=True)
    table.add_column("file", overflow="fold")
    for q in grid.questions:
        table.add_column(q, overflow="fold")
    for doc_id, file_name in grid.documents:
        row = [file_name]
        for q in grid.questions:
            cell = grid.cell(doc_id, q)
            if cell is None:
                row.append("")
                continue
            state = cell.shown_state
            text = cell.shown_answer or (f"“{cell.quote[:200]}”" if cell.quote else "")
            page = f" (p. {cell.page})" if cell.page is not None and state != CellState.NOT_FOUND else ""
            row.append(f"{text}{page}\n[{STYLE[state]}]{state.value}[/]")
        table.add_row(*row)
    return table
