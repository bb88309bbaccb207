"""The `confidant` command. Machine-readable output (--json) goes to stdout; progress and tables to stderr/stdout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from confidant.access import AccessDenied
from confidant.cli_admin import api_command, audit_command, users_app
from confidant.cli_common import (
    CollectionOpt,
    JsonOpt,
    err,
    ingest_with_progress,
    open_workspace,
    out,
    print_json,
    results_table,
)
from confidant.cli_docs import docs_app, sync_command
from confidant.cli_grid import grid_command
from confidant.limits import LimitExceeded
from confidant.settings import Settings
from confidant.workspace import Workspace, provenance_label
from rag.retriever import Mode
from storage.records import FINAL_STATES

app = typer.Typer(help="Confidant: ask questions of your own documents, fully offline.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
app.add_typer(docs_app, name="docs")
app.add_typer(users_app, name="users")
app.command("audit")(audit_command)
app.command("sync")(sync_command)
app.command("api")(api_command)
app.command("grid")(grid_command)

@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (folders are read recursively).")],
    collection: CollectionOpt = None,
    as_json: JsonOpt = False,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Return once the files are keyword-searchable; their "
                                          "vectors follow in the app's or the API's background queue.")] = False,
) -> None:
    """Index files and folders. Every file ends in a clear state with a reason."""
    missing = [p for p in paths if not p.exists()]
    for p in missing:
        err.print(f"[red]No such file or folder:[/] {p}")
    with open_workspace() as ws:
        name = collection or ws.settings.default_collection
        try:
            results = ingest_with_progress(ws, [p for p in paths if p.exists()], name, wait=not no_wait)
        except KeyboardInterrupt:
            err.print("[yellow]Interrupted.[/] Finished files are kept; run the same command again to resume.")
            raise typer.Exit(130) from None
        except (AccessDenied, LimitExceeded) as refused:
            err.print(f"[red]{refused}[/]")
            raise typer.Exit(2) from None
    if as_json:
        print_json([r.as_json() for r in results])
    else:
        results_table(results)
    if missing or any(r.state not in FINAL_STATES for r in results):
        raise typer.Exit(1)


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int | None, typer.Option("--k", "-k", help="How many passages (default: search_k).")] = None,
    collection: CollectionOpt = None,
    document: Annotated[list[str] | None, typer.Option("--document", "-d", help="Only this document id (any "
                                                       "version, including older ones).")] = None,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Also search older versions.")] = False,
    mode: Annotated[Mode | None, typer.Option(
        "--mode", help="hybrid: both stages fused (the default search_mode); vector: meaning only (embeddings); "
                       "keyword: words only (BM25). See what each stage finds.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find the passages that best match a question (no language model)."""
    collections = [collection] if collection else None
    with open_workspace() as ws:
        try:
            ids = [r.id for d in document for r in ws.find_documents(d)] if document else None
            hits = ws.search(question, k, collections, ids, all_versions=all_versions, mode=mode)
        except (AccessDenied, LimitExceeded) as refused:
            err.print(f"[red]{refused}[/]")
            raise typer.Exit(2) from None
    if as_json:
        print_json([{"rank": i, "score": round(h.score, 4), "file": h.chunk.file_name, "page": h.chunk.page,
                     "start": h.chunk.start, "end": h.chunk.end, "text": h.chunk.text,
                     "document_id": h.chunk.document_id} for i, h in enumerate(hits, start=1)])
        return
    if not hits:
        out.print("No passages found. Ingest documents first: confidant ingest FOLDER")
        return
    for i, h in enumerate(hits, start=1):
        c = h.chunk
        out.print(f"[bold][{i}][/] {c.file_name}, page {c.page}  [dim](score {h.score:.3f}, "
                  f"chars {c.start}–{c.end})[/]")
        out.print("    " + " ".join(c.text.split())[:400])


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    collection: CollectionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from your documents with a local model, citing file and page."""
    from rich.live import Live
    from rich.panel import Panel

    from rag.answering import Answer, Retrieved, Token

    collections = [collection] if collection else None
    with open_workspace() as ws:
        answer: Answer | None = None
        streamed = ""
        try:
            events = ws.stream_answer(question, collections)
            with Live(console=err, transient=True, refresh_per_second=8) as live:
                live.update(Panel("Searching…", title="Confidant"))
                for event in events:
                    if isinstance(event, Retrieved):
                        live.update(Panel(f"Found {len(event.passages)} passage(s). Asking {ws.model_name()}… "
                                          "(the first answer on a CPU can take a while)", title="Confidant"))
                    elif isinstance(event, Token):
                        streamed += event.text
                        live.update(Panel(streamed, title=f"{ws.model_name()} (checking citations when done)"))
                    else:
                        answer = event
        except (AccessDenied, LimitExceeded) as refused:
            err.print(f"[red]{refused}[/]")
            raise typer.Exit(2) from None
        assert answer is not None
        if as_json:
            print_json(ws.answer_json(answer))
        else:
            _print_answer(answer, ws)


def _print_answer(answer: Any, workspace: Workspace) -> None:
    if getattr(answer, "asked_as", ""):
        out.print(f"[dim]Read as: {answer.asked_as}[/]")
    if answer.declined:
        out.print(f"[yellow]{answer.text}[/]")
    elif answer.text:
        out.print(answer.text)
    if answer.message:
        out.print(f"[dim]{answer.message}[/]")
    if answer.unsupported and not answer.declined:
        for sentence in answer.unsupported:
            out.print(f"[red]  left out, not supported by the passages:[/] {sentence}")
    cited = {c.n for c in answer.citations}
    title = "Sources" if cited else "Closest passages"
    out.print(f"\n[bold]{title}[/]  [dim](model: {answer.model})[/]")
    for n, p in enumerate(answer.passages, start=1):
        if cited and n not in cited:
            continue
        c = p.chunk
        out.print(f"[bold][{n}][/] {c.file_name}, page {c.page}{provenance_label(workspace.provenance(c))}  "
                  f"[dim](chars {c.start}–{c.end}, score {p.score:.2f})[/]")
        out.print("    " + " ".join(c.text.split())[:300])


@app.command("eval")
def evaluate_command(
    questions_file: Annotated[Path, typer.Argument(help="JSONL: {id, question, answer, evidence: [{file, page}], "
                                                        "answerable} per line.", exists=True, dir_okay=False)],
    collection: CollectionOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", help="Passages retrieved per question.")] = 10,
    answers: Annotated[bool, typer.Option("--answers", help="Also ask the model and grade its answers against the "
                                                            "reference answers: right / wrong / declined / "
                                                            "unsupported (slow).")] = False,
    table: Annotated[bool, typer.Option("--table", help="Print a row per question.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Measure retrieval (page and file recall@1/5/10, MRR) on your own question set; with --answers, citations too."""
    from rag.evaluation import load_questions

    try:
        questions = load_questions(questions_file)
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    collections = [collection] if collection else None
    with open_workspace() as workspace:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("Searching", total=len(questions))
            report = workspace.evaluate(questions, k, collections,
                                        on_question=lambda i, n: bar.update(task, completed=i))
            summary: dict[str, Any] = dict(report.summary())
            answer_report = None
            if answers:
                task = bar.add_task("Answering", total=len(questions))
                answer_report = workspace.evaluate_answers(questions, collections,
                                                           on_question=lambda i, n: bar.update(task, completed=i))
                summary.update(answer_report.summary())
    if as_json:
        if table:
            summary["questions_detail"] = [
                {"id": r.question.id, "page_rank": r.page_rank, "file_rank": r.file_rank,
                 "top": [{"file": h.chunk.file_name, "page": h.chunk.page} for h in r.hits[:3]]}
                for r in report.results]
        if table and answer_report is not None:
            summary["answers_detail"] = [
                {"id": r.question.id, "grade": r.graded.grade, "why": r.graded.reason, "answer": r.answer,
                 "reference": r.question.answer} for r in answer_report.results]
        print_json(summary)
        return
    if table:
        rows = Table(title="Per question")
        for col in ("id", "page rank", "file rank", "question", "top passage"):
            rows.add_column(col, overflow="fold")
        for r in report.results:
            top = f"{r.hits[0].chunk.file_name} p.{r.hits[0].chunk.page}" if r.hits else "—"
            rows.add_row(r.question.id, str(r.page_rank or "miss"), str(r.file_rank or "miss"),
                         r.question.question[:70], top)
        out.print(rows)
        if answer_report is not None:
            graded = Table(title="Answers, graded against the reference answers")
            for col in ("id", "grade", "answer", "reference", "why"):
                graded.add_column(col, overflow="fold")
            for a in answer_report.results:
                graded.add_row(a.question.id, a.graded.grade, a.answer[:200], a.question.answer[:80], a.graded.reason)
            out.print(graded)
    overview = Table(title=f"{questions_file.name}: {summary['answerable']} answerable of {summary['questions']}")
    overview.add_column("metric")
    overview.add_column("value", justify="right")
    for key, value in summary.items():
        if key not in ("questions", "answerable"):
            overview.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    out.print(overview)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8501).")] = None,
) -> None:
    """Start the web app."""
    from confidant.server import run_app

    settings = Settings()
    raise typer.Exit(run_app(settings, host or settings.host, port or settings.port))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
