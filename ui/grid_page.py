"""Review grid: pick documents and questions, get a table of short cited answers (rows are documents, columns are
questions), click a cell to see its sentence on the page, correct it, and download the grid for the team.

The grid is filled in the background (Workspace.start_grid): the person can leave the page, ask questions in the
chat, and come back to it; its cells show as they are answered. Each cell is kept as soon as it is answered:
Cancel stops the run, and running it again answers only the cells still missing; a document that changed has its
row answered again."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import streamlit as st

from confidant.access import AccessDenied
from confidant.grid_export import write_csv, write_json, write_xlsx
from confidant.grid_runs import GridRun, RunState
from confidant.limits import LimitExceeded
from confidant.workspace import Workspace
from rag.grid import CellState, Grid, GridCell
from storage.records import DocState
from ui.context import AppContext
from ui.page_image import highlighted_page

RUN = "grid_run_id"  # the run this session started last
MARK_RUN = {RunState.DONE: "✓", RunState.CANCELLED: "■", RunState.FAILED: "✗"}
# plain symbols (emoji need a colour font the browser may not have: headless Chromium drew boxes)
MARK = {CellState.ANSWERED: "✓", CellState.NOT_FOUND: "∅", CellState.NEEDS_REVIEW: "⚠", CellState.REVIEWED: "✎"}
STATE_HELP = ("✓ answered: the short answer's facts are in the quoted sentence · ∅ not found in this document · "
              "⚠ needs review: a sentence that may answer it, word for word · ✎ reviewed by a person")


def grid_page(ctx: AppContext) -> None:
    st.header("Review grid")
    st.caption("The same questions asked of each document alone: a short answer, the sentence it rests on and its "
               "page, per document and question.")
    names = ctx.collection_names()
    if not names:
        st.info("You have no collections yet.")
        return
    ws = ctx.ws
    with_documents = [n for n in names if ws.documents(n, DocState.INDEXED)]
    collection = st.selectbox("Collection", names, key="grid_collection",
                              index=names.index(with_documents[0]) if with_documents else 0)
    records = [r for r in ws.documents(collection, DocState.INDEXED) if r.current]
    if not records:
        st.info(f"{collection} has no indexed documents yet. Add some on the Upload page.")
        return
    labels = {r.id: r.file_name for r in records}
    chosen = st.multiselect("Documents (rows)", list(labels), default=list(labels), format_func=labels.__getitem__,
                            key=f"grid_documents_{collection}")
    templates = ws.grid_templates(collection)
    template = st.selectbox("Questions from", ["(my own)", *templates], key="grid_template",
                            help="Ready-made question sets, and the ones saved for this collection.")
    if st.session_state.get("grid_template_shown") != template:  # a new choice fills the box
        st.session_state["grid_template_shown"] = template
        if template in templates:
            st.session_state["grid_questions"] = "\n".join(templates[template])
    shown = latest_run(ws, collection)
    if shown is not None and not st.session_state.get("grid_questions"):  # a reload: the grid's own questions
        st.session_state["grid_questions"] = "\n".join(shown.questions)
    text = st.text_area("Questions (columns), one per line", key="grid_questions", height=180)
    questions = [line.strip() for line in text.splitlines() if line.strip()]
    save_template(ws, collection, questions)
    run = st.button(f"Fill the grid: {len(chosen)} × {len(questions)} cells", type="primary", key="grid_run",
                    disabled=not (chosen and questions))
    if run:
        try:
            shown = ws.start_grid(collection, questions, chosen)
        except (AccessDenied, LimitExceeded) as refused:
            st.error(str(refused).capitalize())
        else:
            st.session_state[RUN] = shown.id
    if shown is None:
        return
    if not shown.finished:
        st.fragment(progress, run_every=2)(ws, shown.id)
    else:
        st.caption(f"{MARK_RUN[shown.state]} {shown.describe().capitalize()}.")
        show(ws, collection, shown.grid())


def latest_run(ws: Workspace, collection: str) -> GridRun | None:
    """The grid this session started last, else the newest one the caller started on this collection (a reload,
    or another tab, finds the grid still being filled)."""
    runs = ws.grid_runs()
    chosen = st.session_state.get(RUN)
    for run in runs:
        if run.id == chosen and run.collection == collection:
            return run
    return next((r for r in runs if r.collection == collection), None)


def progress(ws: Workspace, run_id: str) -> None:
    """A running grid: its progress, time left, Cancel and the cells so far; refreshed every two seconds, and the
    whole page once it ends."""
    try:
        run = ws.grid_run(run_id)
    except AccessDenied:
        return
    if run.finished:
        st.rerun(scope="app")
    total = len(run.documents) * len(run.questions)
    done = run.progress.done if run.progress is not None else 0
    st.progress(done / total if total else 0.0, text=f"Filling the grid in the background: {run.describe()}")
    if st.button("Cancel", key="grid_cancel", icon=":material/stop:"):
        ws.cancel_grid(run.id)
        st.caption("Stopping after the cell being answered; the cells answered so far are kept.")
    st.caption("You can leave this page and keep asking in the chat; the grid goes on.")
    if run.cells:
        st.dataframe(frame(run.grid()), hide_index=True, width="stretch", key="grid_partial")


def save_template(ws: Workspace, collection: str, questions: list[str]) -> None:
    with st.expander("Save these questions as a template for this collection"):
        name = st.text_input("Template name", key="grid_template_name")
        if st.button("Save template", key="grid_template_save", disabled=not (name.strip() and questions)):
            try:
                ws.save_grid_template(collection, name, questions)
            except (AccessDenied, LimitExceeded) as refused:
                st.error(str(refused).capitalize())
            else:
                st.success(f"Saved “{name.strip()}” for everyone who uses {collection}.")


def frame(grid: Grid) -> list[dict[str, str]]:
    rows = []
    for doc_id, file_name in grid.documents:
        row = {"file": file_name}
        for q in grid.questions:
            cell = grid.cell(doc_id, q)
            row[q] = "" if cell is None else label(cell)
        rows.append(row)
    return rows


def label(cell: GridCell) -> str:
    state = cell.shown_state
    text = cell.shown_answer if state != CellState.NEEDS_REVIEW else f"“{cell.quote}”"
    page = f" (p. {cell.page})" if cell.page is not None and state != CellState.NOT_FOUND else ""
    return f"{MARK[state]} {text}{page}"


def show(ws: Workspace, collection: str, grid: Grid) -> None:
    st.caption(STATE_HELP + ". Click a cell to see its sentence on the page.")
    columns = {"file": st.column_config.TextColumn("file", width="small", pinned=True),
               **{q: st.column_config.TextColumn(q, width="large") for q in grid.questions}}
    event = st.dataframe(frame(grid), hide_index=True, width="stretch", key="grid_table", on_select="rerun",
                         selection_mode="single-cell", column_config=columns)
    downloads(grid)
    cells = list(getattr(getattr(event, "selection", None), "cells", []) or [])
    if not cells:
        return
    row, column = cells[0]
    if column == "file" or not 0 <= row < len(grid.documents):
        return
    doc_id, _ = grid.documents[row]
    cell = grid.cell(doc_id, column)
    if cell is not None:
        detail(ws, collection, grid, cell)


def downloads(grid: Grid) -> None:
    csv_text, json_text = io.StringIO(), io.StringIO()
    write_csv(grid, csv_text)
    write_json(grid, json_text)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "grid.xlsx"
        write_xlsx(grid, path)
        xlsx = path.read_bytes()
    left, middle, right = st.columns(3)
    left.download_button("Download CSV", csv_text.getvalue(), file_name="review-grid.csv", mime="text/csv",
                         key="grid_csv")
    middle.download_button("Download Excel", xlsx, file_name="review-grid.xlsx", key="grid_xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    right.download_button("Download JSON", json_text.getvalue(), file_name="review-grid.json",
                          mime="application/json", key="grid_json")


def detail(ws: Workspace, collection: str, grid: Grid, cell: GridCell) -> None:
    st.subheader(f"{cell.file_name} — {cell.question}")
    st.markdown(f"**{MARK[cell.shown_state]} {cell.shown_state.value}**"
                + (f" · page {cell.page}" if cell.page is not None else "") + f" · {cell.model}")
    if cell.reviewed_by:
        st.markdown(f"Reviewed by **{cell.reviewed_by}**: {cell.reviewed_answer}")
        st.caption(f"The model's answer: {cell.answer or '(only the quote)'}")
    elif cell.answer:
        st.markdown(cell.answer)
    if cell.quote:
        st.markdown(f"> {cell.quote}")
        page_view(ws, collection, cell)
    with st.form(f"review-{cell.document_id}-{hash(cell.question)}"):
        correction = st.text_input("Your correction (kept beside the model's answer)",
                                   value=cell.reviewed_answer or cell.answer)
        if st.form_submit_button("Save as reviewed"):
            try:
                reviewed = ws.review_grid_cell(collection, cell.document_id, cell.question, correction)
            except (AccessDenied, LimitExceeded) as refused:
                st.error(str(refused).capitalize())
            else:
                grid.cells[(cell.document_id, cell.question)] = reviewed  # the run's cell is updated with it
                st.rerun()


def page_view(ws: Workspace, collection: str, cell: GridCell) -> None:
    """The quoted page with the quote shaded."""
    try:
        path = ws.original_file(collection, cell.document_id, audit=False)
    except AccessDenied:
        return
    if path.suffix.lower() != ".pdf" or cell.page is None:
        return
    try:
        image, found = highlighted_page(path, cell.page, cell.quote.split(" … "))
    except (OSError, ValueError, RuntimeError) as exc:
        st.caption(f"This page cannot be shown: {exc}")
        return
    st.image(image, caption=f"{cell.file_name}, page {cell.page}" + ("" if found else " (sentence not located)"))
