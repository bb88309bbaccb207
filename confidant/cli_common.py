"""What the `confidant` commands share: the consoles, the Workspace of the person at this terminal, JSON output,
and ingesting under a progress bar."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from confidant.access import Caller
from confidant.services import build_services
from confidant.settings import Settings
from confidant.workspace import Workspace
from ingest.pipeline import Progress as IngestProgress
from storage.accounts import Role
from storage.records import DocState, FileResult

out = Console(soft_wrap=True)
err = Console(stderr=True)

CollectionOpt = Annotated[str | None, typer.Option("--collection", "-c", help="Collection name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

STATE_STYLE = {DocState.INDEXED: "green", DocState.DUPLICATE: "cyan", DocState.NEEDS_OCR: "yellow",
               DocState.PASSWORD: "yellow", DocState.TOO_LARGE: "yellow", DocState.UNSUPPORTED: "yellow",
               DocState.INVALID: "red", DocState.FAILED: "red", DocState.PENDING: "magenta"}


def terminal_caller() -> Caller:
    """The person at this terminal: the operating-system user who owns the data folder acts as an administrator,
    and every action is audited as `local:<user>` from the CLI."""
    return Caller(f"local:{getpass.getuser()}", Role.ADMIN, None, "cli")


@contextmanager
def open_workspace(settings: Settings | None = None) -> Iterator[Workspace]:
    """The terminal user's Workspace, closed (stores, model server) when the command ends."""
    services = build_services(settings or Settings())
    if services.data_folder_warning:
        err.print(f"[yellow]Warning:[/] {services.data_folder_warning}", soft_wrap=True)
    try:
        yield services.workspace(terminal_caller())
    finally:
        services.close()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def ingest_with_progress(ws: Workspace, paths: list[Path], collection: str,
                         keyed: list[tuple[Path, str]] | None = None, *, wait: bool = True) -> list[FileResult]:
    """Run an ingest under two progress bars. Reading: files done, pages, pages/s, and an ETA estimated from the
    bytes still to read at the rate of the files actually read so far (skipped duplicates do not inflate it); each
    file is keyword-searchable once read. Vectors (with `wait`): passages embedded, of those expected (the passages
    of the files read so far, scaled up by the bytes still to read), and the ETA of the whole run at the rate of
    embedding so far, which is what a whole ingest waits for (with the pictures still to read, at the speed of those
    read, once some are); the reading bar then says when reading ends."""
    import time

    from confidant.progress_estimate import Estimate, RecentRate, eta_clock, seconds_left
    from ingest.pipeline import VectorProgress, discover

    files = [p for p, _ in keyed] if keyed is not None else discover(paths)
    estimate = Estimate({str(p): _size(p) for p in files})
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[files]}"),
               TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), TextColumn("{task.fields[eta]}"))
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("Loading model", total=None, files="", detail="", eta="")
        ws.ready_to_ingest()  # the embedding model loads before the clock starts
        estimate.start()
        vectors = bar.add_task("Vectors", total=None, files="", detail="", eta="", visible=wait)
        started = time.monotonic()
        recent = RecentRate()

        def on_progress(step: IngestProgress) -> None:
            estimate.update(str(step.file), step.pages, step.file_pages, step.result)
            bar.update(task, total=estimate.total_bytes, completed=estimate.done_bytes,
                       description=step.file.name[:40], files=f"{step.index + (1 if step.result else 0)}/{step.total}",
                       detail=f"{estimate.pages} pages · {estimate.rate_text()}",
                       eta=estimate.eta_text().replace("ETA", "read in") if wait else estimate.eta_text())

        def on_vectors(step: VectorProgress) -> None:
            read_share = estimate.done_bytes / estimate.total_bytes if estimate.total_bytes else 1.0
            expected = max(step.chunks_done + step.chunks_left,
                           round((step.chunks_done + step.chunks_left) / max(read_share, 1e-3)))
            rate = step.chunks_done / max(1e-6, time.monotonic() - started)
            recent.add(step.chunks_done)
            now = recent.per_s() or rate  # the last minute's speed: faster once reading ends
            pictures_note = f" · pictures of {step.picture_pages_left} pages to read" if step.picture_pages_left else ""
            bar.update(vectors, total=expected, completed=step.chunks_done, files=f"{step.chunks_done}/{expected}",
                       detail=f"passages · {now:.0f}/s{pictures_note}",
                       eta=eta_clock(seconds_left(expected - step.chunks_done, now, step.picture_seconds_left())))

        results = ws.ingest_files(paths, collection, on_progress, keyed, wait=wait, on_vectors=on_vectors)
        bar.update(task, description="Read", eta="")
        bar.update(vectors, eta="")
    if not wait:
        err.print("Keyword search finds these files now; their vectors are embedded by the app or the API in the "
                  "background, or by the next `confidant ingest`.")
    return results


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def results_table(results: list[FileResult]) -> None:
    table = Table(title=f"{len(results)} file(s)", show_lines=False)
    for col in ("file", "pages", "chunks", "state", "reason"):
        table.add_column(col, justify="right" if col in ("pages", "chunks") else "left",
                         overflow="fold", max_width=60 if col == "reason" else None)
    for r in results:
        style = STATE_STYLE.get(r.state, "")
        table.add_row(r.file, str(r.pages), str(r.chunks), f"[{style}]{r.state.value}[/]", r.reason)
    out.print(table)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.state.value] = counts.get(r.state.value, 0) + 1
    out.print(", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
