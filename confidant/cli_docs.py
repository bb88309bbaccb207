"""`confidant sync`, and the version commands of `confidant docs`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from confidant.services import Services, build_services
from confidant.settings import Settings
from ingest.sync import SyncPlan, plan_sync
from storage.records import FINAL_STATES, DocumentRecord

out = Console(soft_wrap=True)
err = Console(stderr=True)

_ACTION_STYLE = {"add": "green", "change": "cyan", "remove": "red", "unchanged": "dim"}


def record_json(r: DocumentRecord) -> dict[str, object]:
    return {"id": r.id, "file": r.file_name, "collection": r.collection, "state": r.state.value, "reason": r.reason,
            "pages": r.pages, "chunks": r.chunks, "characters": r.characters, "bytes": r.bytes,
            "source": r.source_key, "version": r.version, "current": r.current, "effective_date": r.effective_date,
            "ocr_pages": list(r.ocr_pages), "added": r.created_at, "updated": r.updated_at}


def sync_command(
    folder: Annotated[Path, typer.Argument(help="The folder the collection should match.", exists=True,
                                           file_okay=False)],
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Collection name.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would change.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Make a collection match a folder: add new files, index changed ones as a new version, remove documents whose
    files are gone."""
    from confidant.cli import _ingest_with_progress, _print_json, _results_table, cli_workspace

    services = build_services(Settings())
    name = collection or services.settings.default_collection
    try:
        plan = plan_sync(folder, name, services.registry)
        if as_json and dry_run:
            _print_json({"folder": str(plan.folder), "collection": name,
                         "plan": [{"action": a, "file": k} for a, k in plan.rows()]})
            return
        if not as_json:
            _plan_table(plan)
        if dry_run:
            return
        keyed = plan.add + plan.change
        report = cli_workspace(services).sync_remove(plan)  # audited, even when nothing changed
        results = _ingest_with_progress(services, [], name, keyed=keyed) if keyed else []
    finally:
        services.close()
    if as_json:
        _print_json({"folder": str(plan.folder), "collection": name, "results": [r.as_json() for r in results],
                     "removed": [record_json(r) for r in report.removed]})
    else:
        if results:
            _results_table(results)
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


def _one(services: Services, document_id: str, collection: str | None) -> DocumentRecord:
    matches = [r for r in services.registry.find(document_id) if collection is None or r.collection == collection]
    if len(matches) != 1:
        err.print("[red]No such document[/]" if not matches else "[red]Several documents match; give more "
                  "characters or --collection.[/]")
        raise typer.Exit(1)
    return matches[0]


def versions_command(
    document_id: Annotated[str, typer.Argument(help="Id (or 8+ characters) of any version of the document.")],
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Collection name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Every version of a document, newest first (search an older one with `search --document ID`)."""
    services = build_services(Settings())
    try:
        record = _one(services, document_id, collection)
        versions = services.registry.versions(record.collection, record.source_key)
    finally:
        services.close()
    if as_json:
        from confidant.cli import _print_json

        _print_json([record_json(v) for v in versions])
        return
    table = Table(title=f"{record.source_key} in {record.collection}")
    for col in ("version", "id", "effective", "state", "pages", "added", ""):
        table.add_column(col)
    for v in versions:
        table.add_row(str(v.version), v.id[:12], v.effective_date, v.state.value, str(v.pages),
                      v.created_at.replace("T", " ")[:16], "[green]current[/]" if v.current else "")
    out.print(table)


def date_command(
    document_id: Annotated[str, typer.Argument(help="Document id (or 8+ characters).")],
    effective: Annotated[str, typer.Argument(help="Effective date, YYYY-MM-DD.")],
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Collection name.")] = None,
) -> None:
    """Set the date a version takes effect (shown with its citations)."""
    try:
        day = date.fromisoformat(effective).isoformat()
    except ValueError:
        err.print("[red]Give the date as YYYY-MM-DD.[/]")
        raise typer.Exit(1) from None
    services = build_services(Settings())
    try:
        record = _one(services, document_id, collection)
        services.registry.set_effective_date(record.collection, record.id, day)
    finally:
        services.close()
    out.print(f"{record.file_name} version {record.version} takes effect on {day}.")
