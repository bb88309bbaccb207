"""`confidant docs …` (list, delete, versions, date) and `confidant sync`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from confidant.access import AccessDenied
from confidant.cli_common import (
    STATE_STYLE,
    CollectionOpt,
    JsonOpt,
    err,
    ingest_with_progress,
    open_workspace,
    out,
    print_json,
    results_table,
)
from confidant.limits import LimitExceeded
from confidant.workspace import Workspace
from ingest.sync import SyncPlan
from storage.records import FINAL_STATES, DocState, DocumentRecord

T = TypeVar("T")

docs_app = typer.Typer(help="List, delete and date indexed documents.", no_args_is_help=True)

_ACTION_STYLE = {"add": "green", "change": "cyan", "remove": "red", "unchanged": "dim"}


def record_json(r: DocumentRecord) -> dict[str, object]:
    return {"id": r.id, "file": r.file_name, "collection": r.collection, "state": r.state.value, "reason": r.reason,
            "pages": r.pages, "chunks": r.chunks, "embedded": r.embedded, "characters": r.characters, "bytes": r.bytes,
            "source": r.source_key, "version": r.version, "current": r.current, "effective_date": r.effective_date,
            "ocr_pages": list(r.ocr_pages), "added": r.created_at, "updated": r.updated_at}


@docs_app.command("list")
def docs_list(collection: CollectionOpt = None, as_json: JsonOpt = False) -> None:
    """List documents with their state."""
    with open_workspace() as ws:
        records = _or_exit(lambda: ws.documents(collection))
    if as_json:
        print_json([record_json(r) for r in records])
        return
    table = Table(title=f"{len(records)} document(s)")
    for col in ("id", "collection", "file", "version", "pages", "chunks", "state", "added"):
        table.add_column(col)
    for r in records:
        version = f"{r.version}" + ("" if r.current or r.state is not DocState.INDEXED else " (older)")
        state = f"[{STATE_STYLE.get(r.state, '')}]{r.state.value}[/]"
        if r.vectors_pending:
            state += f" (keywords only; vectors {r.embedded}/{r.chunks})"
        table.add_row(r.id[:12], r.collection, r.file_name, version, str(r.pages), str(r.chunks), state,
                      r.created_at.replace("T", " ")[:16])
    out.print(table)


@docs_app.command("delete")
def docs_delete(
    document_id: Annotated[str, typer.Argument(help="Document id (or its first 8+ characters).")],
    collection: CollectionOpt = None,
) -> None:
    """Delete a document: its chunks first, then its record."""
    with open_workspace() as ws:
        matches = _or_exit(lambda: ws.find_documents(document_id, collection))
        if not matches:
            err.print(f"[red]No document with id {document_id}[/]" + (f" in {collection}" if collection else ""))
            raise typer.Exit(1)
        if len({r.id for r in matches}) > 1:
            err.print("[red]That prefix matches more than one document; give more characters.[/]")
            raise typer.Exit(1)
        for record in matches:
            _or_exit(lambda: ws.delete(record.collection, record.id))  # noqa: B023 - called at once
            out.print(f"Deleted {record.file_name} from {record.collection}.")


def _or_exit(action: Callable[[], T]) -> T:
    """The action's result; a refusal (a role, a collection, a limit) printed and exit code 2."""
    try:
        return action()
    except (AccessDenied, LimitExceeded, ValueError) as refused:
        err.print(f"[red]{refused}[/]")
        raise typer.Exit(2) from None


def sync_command(
    folder: Annotated[Path, typer.Argument(help="The folder the collection should match.", exists=True,
                                           file_okay=False)],
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Collection name.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would change.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Make a collection match a folder: add new files, index changed ones as a new version, remove documents whose
    files are gone."""
    with open_workspace() as ws:
        name = collection or ws.settings.default_collection
        plan = _or_exit(lambda: ws.plan_sync(folder, name))
        if as_json and dry_run:
            print_json({"folder": str(plan.folder), "collection": name,
                        "plan": [{"action": a, "file": k} for a, k in plan.rows()]})
            return
        if not as_json:
            _plan_table(plan)
        if dry_run:
            return
        keyed = plan.add + plan.change
        report = ws.sync_remove(plan)  # audited, even when nothing changed
        results = ingest_with_progress(ws, [], name, keyed=keyed) if keyed else []
    if as_json:
        print_json({"folder": str(plan.folder), "collection": name, "results": [r.as_json() for r in results],
                    "removed": [record_json(r) for r in report.removed]})
    else:
        if results:
            results_table(results)
        for r in report.removed:
            out.print(f"Removed {r.source_key} (version {r.version}) — its file is gone.")
    if any(r.state not in FINAL_STATES for r in results):
        raise typer.Exit(1)


def _plan_table(plan: SyncPlan) -> None:
    table = Table(title=f"{plan.folder} → {plan.collection}")
    table.add_column("action")
    table.add_column("file", overflow="fold")
    for action, key in plan.rows():
        if action != "unchanged":
            table.add_row(f"[{_ACTION_STYLE[action]}]{action}[/]", key)
    out.print(table)
    out.print(f"{len(plan.add)} to add, {len(plan.change)} changed, {len(plan.remove)} to remove, "
              f"{len(plan.unchanged)} unchanged")


def _one(ws: Workspace, document_id: str, collection: str | None) -> DocumentRecord:
    matches = _or_exit(lambda: ws.find_documents(document_id, collection))
    if len(matches) != 1:
        err.print("[red]No such document[/]" if not matches else "[red]Several documents match; give more "
                  "characters or --collection.[/]")
        raise typer.Exit(1)
    return matches[0]


@docs_app.command("versions")
def versions_command(
    document_id: Annotated[str, typer.Argument(help="Id (or 8+ characters) of any version of the document.")],
    collection: CollectionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every version of a document, newest first (search an older one with `search --document ID`)."""
    with open_workspace() as ws:
        record = _one(ws, document_id, collection)
        versions = ws.versions(record.collection, record.id)
    if as_json:
        print_json([record_json(v) for v in versions])
        return
    table = Table(title=f"{record.source_key} in {record.collection}")
    for col in ("version", "id", "effective", "state", "pages", "added", ""):
        table.add_column(col)
    for v in versions:
        table.add_row(str(v.version), v.id[:12], v.effective_date, v.state.value, str(v.pages),
                      v.created_at.replace("T", " ")[:16], "[green]current[/]" if v.current else "")
    out.print(table)


@docs_app.command("date")
def date_command(
    document_id: Annotated[str, typer.Argument(help="Document id (or 8+ characters).")],
    effective: Annotated[str, typer.Argument(help="Effective date, YYYY-MM-DD.")],
    collection: CollectionOpt = None,
) -> None:
    """Set the date a version takes effect (shown with its citations)."""
    try:
        day = date.fromisoformat(effective).isoformat()
    except ValueError:
        err.print("[red]Give the date as YYYY-MM-DD.[/]")
        raise typer.Exit(1) from None
    with open_workspace() as ws:
        record = _one(ws, document_id, collection)
        _or_exit(lambda: ws.set_effective_date(record.collection, record.id, day))
    out.print(f"{record.file_name} version {record.version} takes effect on {day}.")
