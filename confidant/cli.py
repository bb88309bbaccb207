"""The `confidant` command. Machine-readable output (--json) goes to stdout; progress and tables to stderr/stdout."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from confidant.access import Caller, Workspace, provenance_label
from confidant.cli_admin import api_command, audit_command, users_app
from confidant.cli_docs import date_command, record_json, sync_command, versions_command
from confidant.limits import LimitExceeded
from confidant.services import Services, build_services
from confidant.settings import Settings
from ingest.pipeline import Progress as IngestProgress
from storage.accounts import Role
from storage.records import FINAL_STATES, DocState, FileResult

app = typer.Typer(help="Confidant: ask questions of your own documents, fully offline.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
docs_app = typer.Typer(help="List and delete indexed documents.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")
app.add_typer(users_app, name="users")
app.command("audit")(audit_command)
app.command("sync")(sync_command)
docs_app.command("versions")(versions_command)
docs_app.command("date")(date_command)
app.command("api")(api_command)

out = Console(soft_wrap=True)
err = Console(stderr=True)

CollectionOpt = Annotated[str | None, typer.Option("--collection", "-c", help="Collection name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

_STATE_STYLE = {DocState.INDEXED: "green", DocState.DUPLICATE: "cyan", DocState.NEEDS_OCR: "yellow",
                DocState.PASSWORD: "yellow", DocState.TOO_LARGE: "yellow", DocState.UNSUPPORTED: "yellow",
                DocState.INVALID: "red", DocState.FAILED: "red", DocState.PENDING: "magenta"}


def _services() -> Services:
    services = build_services(Settings())
    if services.data_folder_warning:
        err.print(f"[yellow]Warning:[/] {services.data_folder_warning}", soft_wrap=True)
    return services


def cli_workspace(services: Services) -> Workspace:
    """The Workspace of the person at this terminal: the operating-system user who owns the data folder acts as
    an administrator, and every action is audited as `local:<user>` from the CLI."""
    return Workspace(services, Caller(f"local:{getpass.getuser()}", Role.ADMIN, None, "cli"), services.audit)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (folders are read recursively).")],
    collection: CollectionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Index files and folders. Every file ends in a clear state with a reason."""
    services = _services()
    name = collection or services.settings.default_collection
    missing = [p for p in paths if not p.exists()]
    for p in missing:
        err.print(f"[red]No such file or folder:[/] {p}")
    try:
        results = _ingest_with_progress(services, [p for p in paths if p.exists()], name)
    except KeyboardInterrupt:
        err.print("[yellow]Interrupted.[/] Finished files are kept; run the same command again to resume.")
        raise typer.Exit(130) from None
    finally:
        services.close()
    if as_json:
        _print_json([r.as_json() for r in results])
    else:
        _results_table(results)
    if missing or any(r.state not in FINAL_STATES for r in results):
        raise typer.Exit(1)


def _ingest_with_progress(services: Services, paths: list[Path], collection: str,
                          keyed: list[tuple[Path, str]] | None = None) -> list[FileResult]:
    """Run an ingest under a progress bar: files done, pages, pages/s, and an ETA estimated from the bytes still to
    read at the rate of the files actually indexed so far (skipped duplicates do not inflate it)."""
    from confidant.progress_estimate import Estimate
    from ingest.pipeline import discover

    files = [p for p, _ in keyed] if keyed is not None else discover(paths)
    estimate = Estimate({str(p): _size(p) for p in files})
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[files]}"),
               TextColumn("{task.fields[pages]} pages · {task.fields[rate]}"), TimeElapsedColumn(),
               TextColumn("{task.fields[eta]}"))
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("Loading model", total=None, files="", pages=0, rate="", eta="")
        services.pipeline  # noqa: B018 - loads the embedding model before the clock starts
        estimate.start()

        def on_progress(step: IngestProgress) -> None:
            estimate.update(str(step.file), step.pages, step.file_pages, step.result)
            bar.update(task, total=estimate.total_bytes, completed=estimate.done_bytes,
                       description=step.file.name[:40], files=f"{step.index + (1 if step.result else 0)}/{step.total}",
                       pages=estimate.pages, rate=estimate.rate_text(), eta=estimate.eta_text())

        results = cli_workspace(services).ingest_files(paths, collection, on_progress, keyed)
        bar.update(task, description="Done", eta="")
    return results


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _results_table(results: list[FileResult]) -> None:
    table = Table(title=f"{len(results)} file(s)", show_lines=False)
    for col in ("file", "pages", "chunks", "state", "reason"):
        table.add_column(col, justify="right" if col in ("pages", "chunks") else "left",
                         overflow="fold", max_width=60 if col == "reason" else None)
    for r in results:
        style = _STATE_STYLE.get(r.state, "")
        table.add_row(r.file, str(r.pages), str(r.chunks), f"[{style}]{r.state.value}[/]", r.reason)
    out.print(table)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.state.value] = counts.get(r.state.value, 0) + 1
    out.print(", ".join(f"{n} {state}" for state, n in sorted(counts.items())))


@docs_app.command("list")
def docs_list(collection: CollectionOpt = None, as_json: JsonOpt = False) -> None:
    """List documents with their state."""
    services = _services()
    records = services.registry.documents(collection=collection)
    if as_json:
        _print_json([record_json(r) for r in records])
        return
    table = Table(title=f"{len(records)} document(s)")
    for col in ("id", "collection", "file", "version", "pages", "chunks", "state", "added"):
        table.add_column(col)
    for r in records:
        version = f"{r.version}" + ("" if r.current or r.state is not DocState.INDEXED else " (older)")
        table.add_row(r.id[:12], r.collection, r.file_name, version, str(r.pages), str(r.chunks),
                      f"[{_STATE_STYLE.get(r.state, '')}]{r.state.value}[/]", r.created_at.replace("T", " ")[:16])
    out.print(table)


@docs_app.command("delete")
def docs_delete(
    document_id: Annotated[str, typer.Argument(help="Document id (or its first 8+ characters).")],
    collection: CollectionOpt = None,
) -> None:
    """Delete a document: its chunks first, then its record."""
    services = _services()
    matches = [r for r in services.registry.find(document_id) if collection is None or r.collection == collection]
    if not matches:
        err.print(f"[red]No document with id {document_id}[/]" + (f" in {collection}" if collection else ""))
        raise typer.Exit(1)
    if len({r.id for r in matches}) > 1:
        err.print("[red]That prefix matches more than one document; give more characters.[/]")
        raise typer.Exit(1)
    workspace = cli_workspace(services)
    try:
        for record in matches:
            workspace.delete(record.collection, record.id)
            out.print(f"Deleted {record.file_name} from {record.collection}.")
    finally:
        services.close()


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("--k", "-k", help="How many passages.")] = 5,
    collection: CollectionOpt = None,
    document: Annotated[list[str] | None, typer.Option("--document", "-d", help="Only this document id (any "
                                                       "version, including older ones).")] = None,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Also search older versions.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Find the passages that best match a question (no language model)."""
    services = _services()
    collections = [collection] if collection else None
    ids = [r.id for d in document for r in services.registry.find(d)] if document else None
    try:
        hits = cli_workspace(services).search(question, k, collections, ids, all_versions=all_versions)
    except LimitExceeded as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    finally:
        services.close()
    if as_json:
        _print_json([{"rank": i, "score": round(h.score, 4), "file": h.chunk.file_name, "page": h.chunk.page,
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

    services = _services()
    workspace = cli_workspace(services)
    collections = [collection] if collection else None
    try:
        workspace.limits.question(question)
        answerer = workspace.answerer(collections)
    except LimitExceeded as exc:
        services.close()
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    answer: Answer | None = None
    streamed = ""
    try:
        with Live(console=err, transient=True, refresh_per_second=8) as live:
            live.update(Panel("Searching…", title="Confidant"))
            for event in answerer.stream(question):
                if isinstance(event, Retrieved):
                    live.update(Panel(f"Found {len(event.passages)} passage(s). Asking {answerer.model_name()}… "
                                      "(the first answer on a CPU can take a while)", title="Confidant"))
                elif isinstance(event, Token):
                    streamed += event.text
                    live.update(Panel(streamed, title=f"{answerer.model_name()} (checking citations when done)"))
                else:
                    answer = event
        assert answer is not None
        workspace.record_answer(answer, workspace.scope(collections))
        if as_json:
            _print_json(workspace.answer_json(answer))
        else:
            _print_answer(answer, workspace)
    finally:
        services.close()


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
    services = _services()
    collections = [collection] if collection else None
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("Searching", total=len(questions))
            workspace = cli_workspace(services)
            report = workspace.evaluate(questions, k, collections,
                                        on_question=lambda i, n: bar.update(task, completed=i))
            summary: dict[str, Any] = dict(report.summary())
            answer_report = None
            if answers:
                task = bar.add_task("Answering", total=len(questions))
                answer_report = workspace.evaluate_answers(questions, collections,
                                                           on_question=lambda i, n: bar.update(task, completed=i))
                summary.update(answer_report.summary())
    finally:
        services.close()
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
        _print_json(summary)
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
