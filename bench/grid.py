"""Review grid benchmark (issue #23): contracts-dev as a grid — every contract a row, the contract template's first
four questions (governing law, end of the initial term, renewal term, notice to stop renewal) the columns — each
cell answered from its contract alone, graded against contracts-dev's reference answer where the set has one
(rag/grading.py), with cells/minute. Beside it, same run, same embedded model: LlamaIndex's default query engine
asked each graded cell's question, filtered to that contract (its default top 2 nodes).

A cell is right when its short answer holds the reference's key facts; wrong when it states others (shown as
answered); "not found" and "needs review" (only a quote shown) are not wrong. Cells without a reference (the
contract's clause was not annotated) are counted by state only.

    python -m bench.grid [--documents 30] [--threads 2] [--no-baseline] [--json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bench.answer import llamaindex_parts
from bench.quality_sets import DEFAULT_WORK, confidant_index, eval_set
from bench.report import console, machine, rows_table, save
from confidant.offline import enforce_offline
from confidant.services import build_services
from confidant.settings import Settings
from rag.grading import grade
from rag.grid import TEMPLATES, CellState, Grid, GridProgress
from rag.llamacpp_chat import LlamaCppChat
from rag.model_files import resolve_model_path
from rag.prompting import says_it_cannot_answer

COLLECTION = "contracts"
QUESTIONS = TEMPLATES["contracts"][:4]


def kind_of(question: str) -> int | None:
    if "How much notice" in question:
        return 3
    if "law governs" in question:
        return 0
    if "initial term" in question:
        return 1
    if "renew" in question:
        return 2
    return None


def references(s: Any) -> dict[tuple[str, str], str]:
    """(file, grid question) → reference answer."""
    found = {}
    for q in s.questions():
        kind = kind_of(q.question)
        if kind is not None and q.answerable:
            found[(q.evidence[0].file, QUESTIONS[kind])] = q.answer
    return found


def graded(answer: str, reference: str, *, not_found: bool, shown: bool) -> str:
    return grade(answer, reference, declined=not_found, answerable=True, checked=shown).grade


def confidant_grid(model: LlamaCppChat, s: Any, work: Path, documents: int,
                   log: Any) -> tuple[Grid, float, Any]:
    config, _ = confidant_index(s, work, {})
    services = build_services(config, chat_model=model)
    ws = services.workspace()
    records = sorted((r for r in ws.documents(COLLECTION) if r.current), key=lambda r: r.file_name)[:documents]
    started = time.perf_counter()

    def on_cell(cell: Any, step: GridProgress) -> None:
        if step.done % 10 == 0 or step.done == step.total:
            log(f"  grid: {step.done}/{step.total} cells, {time.perf_counter() - started:.0f} s")

    grid = ws.grid(COLLECTION, list(QUESTIONS), [r.id for r in records], on_cell=on_cell, redo=True)
    seconds = time.perf_counter() - started
    return grid, seconds, services


def score_confidant(grid: Grid, expected: dict[tuple[str, str], str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = []
    for (_, question), cell in grid.cells.items():
        reference = expected.get((cell.file_name, question))
        verdict = "" if reference is None else graded(cell.answer, reference,
                                                        not_found=cell.state is CellState.NOT_FOUND,
                                                        shown=cell.state is CellState.ANSWERED)
        if reference is not None and cell.state is CellState.NEEDS_REVIEW:
            verdict = "needs review"  # only the quote is shown: neither right nor wrong as an answer
        rows.append({"file": cell.file_name, "question": question, "state": cell.state.value, "answer": cell.answer,
                     "quote": cell.quote[:300], "page": cell.page, "reference": reference, "grade": verdict,
                     "model": cell.model, "seconds": round(cell.seconds, 1)})
    return summary(rows), rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    judged = [r for r in rows if r["reference"] is not None]
    n = max(1, len(judged))
    share = {g: round(sum(r["grade"] == g for r in judged) / n, 3)
             for g in ("right", "wrong", "declined", "needs review", "unsupported")}
    return {"cells": len(rows), "graded_cells": len(judged), **{f"{k}_share": v for k, v in share.items()},
            "states": {st: sum(r["state"] == st for r in rows) for st in sorted({r["state"] for r in rows})}}


def baseline_rows(model: LlamaCppChat, s: Any, work: Path, cells: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """LlamaIndex's query engine per cell, filtered to the cell's contract."""
    from llama_index.core.vector_stores import ExactMatchFilter, MetadataFilters

    _, index, llm = llamaindex_parts(model, s, work)
    rows = []
    for file_name, question, reference in cells:
        engine = index.as_query_engine(llm=llm, similarity_top_k=2, filters=MetadataFilters(
            filters=[ExactMatchFilter(key="file_name", value=file_name)]))
        started = time.perf_counter()
        text = str(engine.query(question))
        declined = says_it_cannot_answer(text) or not text.strip() or text.strip() == "Empty Response"
        rows.append({"file": file_name, "question": question, "state": "not found" if declined else "answered",
                     "answer": text, "reference": reference, "seconds": round(time.perf_counter() - started, 1),
                     "grade": graded(text, reference, not_found=declined, shown=not declined)})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.grid", description=__doc__)
    parser.add_argument("--documents", type=int, default=30, help="contracts (rows), in file-name order")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-baseline", action="store_true", help="skip LlamaIndex's query engine")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    enforce_offline()
    out = console(args.json)
    settings = Settings()
    s = eval_set("contracts")
    expected = references(s)
    model = LlamaCppChat(resolve_model_path(settings.embedded_model, settings.models_dir),
                         label=settings.embedded_model, threads=args.threads, context=4096, timeout_s=900)
    results: dict[str, dict[str, Any]] = {}
    details: dict[str, list[dict[str, Any]]] = {}
    try:
        grid, seconds, services = confidant_grid(model, s, args.work, args.documents, out.print)
        try:
            results["confidant grid"], details["confidant grid"] = score_confidant(grid, expected)
        finally:
            services.close()
        results["confidant grid"]["cells_per_minute"] = round(len(grid.cells) / seconds * 60, 1)
        results["confidant grid"]["seconds"] = round(seconds, 1)
        out.print(f"confidant grid: {results['confidant grid']}")
        if not args.no_baseline:
            files = {f for _, f in grid.documents}
            cells = [(f, q, ref) for (f, q), ref in sorted(expected.items()) if f in files]
            started = time.perf_counter()
            rows = baseline_rows(model, s, args.work, cells)
            took = time.perf_counter() - started
            results["llamaindex query engine, per cell"] = {**summary(rows), "seconds": round(took, 1),
                                                            "cells_per_minute": round(len(rows) / took * 60, 1)}
            details["llamaindex query engine, per cell"] = rows
            out.print(f"llamaindex: {results['llamaindex query engine, per cell']}")
    finally:
        model.close()
    columns = ["cells", "graded_cells", "right_share", "wrong_share", "declined_share", "needs review_share",
               "cells_per_minute", "seconds"]
    out.print(rows_table(f"contracts-dev as a review grid ({settings.embedded_model}, {args.threads} thread(s), "
                         f"{args.documents} contracts × {len(QUESTIONS)} questions), same run", "system", results,
                         columns))
    for row in details["confidant grid"]:
        if row["grade"] in ("wrong", "declined", "needs review"):
            out.print(f"  {row['grade']:>12}: {row['file'][:40]} | {row['question'][:40]} | {row['answer'][:80]!r}"
                      f" | ref {row['reference']!r} | quote {row['quote'][:100]!r}")
    save("grid", out, {"benchmark": "grid", "machine": machine(), "questions": list(QUESTIONS),
                       "results": results, "cells": details}, args.json)


if __name__ == "__main__":
    main()
