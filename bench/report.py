"""What every benchmark prints and saves: a rich table on a recording console, the run's context, a results file."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def console(as_json: bool) -> Console:
    """A recording console; with --json the table goes to stderr so stdout stays machine-readable."""
    return Console(record=True, stderr=as_json, width=140)


def machine() -> dict[str, Any]:
    """The context a reader needs to judge timings on a shared machine."""
    import torch

    return {
        "when": datetime.now().isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def rows_table(title: str, first: str, rows: dict[str, dict[str, Any]], columns: Sequence[str]) -> Table:
    """One row per named result, one right-aligned column per metric."""
    table = Table(title=title)
    table.add_column(first)
    for column in columns:
        table.add_column(column, justify="right")
    for name, row in rows.items():
        table.add_row(name, *(str(row.get(c, "—")) for c in columns))
    return table


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def save(name: str, out: Console, payload: dict[str, Any], as_json: bool) -> Path:
    """Write the printed table and the JSON payload to bench/results/<name>-<date>.txt (-2, -3, … for a later run
    the same day, so no result is overwritten); print JSON if asked."""
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    if as_json:
        sys.stdout.write(text + "\n")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{date.today().isoformat()}"
    path, n = RESULTS_DIR / f"{stem}.txt", 1
    while path.exists():
        n += 1
        path = RESULTS_DIR / f"{stem}-{n}.txt"
    path.write_text(out.export_text() + "\n" + text + "\n", encoding="utf-8")
    out.print(f"[dim]saved {path}[/]")
    return path
