"""Review grids filled in the background: a grid of 30 contracts × 4 questions takes minutes with the small local
model, so the app's page and the API start it here and come back for its cells, while the person keeps working.

One thread per process answers the grids in the order they were started (each cell asks the one local model; two
grids at once would only take turns). A run's cells are kept in the records database as they are answered
(Workspace.grid), so a cancelled run, or one a restart ended, is resumed by starting it again: only the cells still
missing are answered. Runs themselves live in this process: a restart forgets them, not their cells."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from rag.grid import Grid, GridCell, GridProgress

log = logging.getLogger(__name__)

KEPT_RUNS = 100  # finished runs remembered per process (their cells are in the database either way)


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class GridCancelled(Exception):
    """Raised from a run's cell callback to stop it (the cells answered so far are kept)."""


@dataclass
class GridRun:
    """One grid being filled: who started it, what it asks, the cells so far and how far it is."""

    id: str
    owner: str
    collection: str
    questions: list[str]
    documents: list[tuple[str, str]]  # (id, file name) of its rows, in order
    state: RunState = RunState.QUEUED
    progress: GridProgress | None = None
    error: str = ""
    answered: int = 0  # cells answered by this run (the others were kept from before)
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    cells: dict[tuple[str, str], GridCell] = field(default_factory=dict)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in (RunState.DONE, RunState.CANCELLED, RunState.FAILED)

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def grid(self) -> Grid:
        """The cells so far, as a grid (rows and columns in the order asked)."""
        grid = Grid(list(self.documents), list(self.questions))
        grid.cells.update(self.cells)
        grid.answered = self.answered
        return grid

    def describe(self) -> str:
        """'12/120 cells · about 9 min left' — what the page's progress line says."""
        total = len(self.documents) * len(self.questions)
        done = self.progress.done if self.progress is not None else 0
        if self.state is RunState.QUEUED:
            return f"waiting for the grid started before it ({total} cells)"
        if self.state is RunState.RUNNING:
            left = self.progress.seconds_left if self.progress is not None else None
            return f"{done}/{total} cells" + ("" if left is None else
                                              f" · about {left:.0f} s left" if left < 90 else
                                              f" · about {left / 60:.0f} min left")
        if self.state is RunState.DONE:
            return f"{total} cells: {self.answered} answered now, {total - self.answered} kept from before"
        if self.state is RunState.CANCELLED:
            return f"cancelled after {done}/{total} cells (they are kept: start it again to finish)"
        return f"stopped after {done}/{total} cells: {self.error}"

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "collection": self.collection, "state": self.state.value,
                "done": self.progress.done if self.progress is not None else 0,
                "total": len(self.documents) * len(self.questions),
                "seconds_left": self.progress.seconds_left if self.progress is not None else None,
                "answered": self.answered, "message": self.describe(), "error": self.error,
                **self.grid().as_json()}


Fill = Callable[[Callable[[GridCell, GridProgress], None]], Grid]


class GridRuns:
    """The background grid runs of this process."""

    def __init__(self, kept: int = KEPT_RUNS) -> None:
        self.kept = kept
        self._runs: dict[str, GridRun] = {}
        self._fills: dict[str, Fill] = {}
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, run: GridRun, fill: Fill) -> GridRun:
        """Queue a run; `fill(on_cell)` answers its cells (Workspace.grid), on this object's thread."""
        with self._lock:
            if self._closed:
                raise RuntimeError("grid runs are closed")
            run.id = run.id or f"g{next(self._ids)}-{int(run.started_at)}"
            self._runs[run.id] = run
            self._fills[run.id] = fill
            self._forget_old()
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="confidant-grid", daemon=True)
                self._thread.start()
        self._queue.put(run.id)
        return run

    def get(self, run_id: str) -> GridRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def of(self, owner: str) -> list[GridRun]:
        """The owner's runs, newest first."""
        with self._lock:
            return sorted((r for r in self._runs.values() if r.owner == owner), key=lambda r: r.started_at,
                          reverse=True)

    def reviewed(self, collection: str, cell: GridCell) -> None:
        """A reviewer corrected a cell: the runs that hold it show the correction."""
        with self._lock:
            runs = [r for r in self._runs.values() if r.collection == collection]
        for run in runs:
            if (cell.document_id, cell.question) in run.cells:
                run.cells[(cell.document_id, cell.question)] = cell

    def cancel(self, run_id: str) -> None:
        """Stop a run at its next cell (a queued one never starts: it is cancelled at once)."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.finished:
                return
            run._cancel.set()
            if run.state is RunState.QUEUED:
                run.state, run.finished_at = RunState.CANCELLED, time.time()

    def close(self) -> None:
        """Cancel every run and end the thread (after the cell being answered)."""
        with self._lock:
            self._closed = True
            runs = list(self._runs.values())
            thread = self._thread
        for run in runs:
            run._cancel.set()
        self._queue.put(None)
        if thread is not None:
            thread.join(timeout=60)

    # --- the thread -------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            run_id = self._queue.get()
            if run_id is None:
                return
            run = self.get(run_id)
            fill = self._fills.pop(run_id, None)
            if run is None or fill is None:
                continue
            self._run(run, fill)

    def _run(self, run: GridRun, fill: Fill) -> None:
        with self._lock:
            if run.cancel_requested:  # cancelled while it waited (cancel() marked it)
                run.state, run.finished_at = RunState.CANCELLED, run.finished_at or time.time()
                return
            run.state = RunState.RUNNING

        def on_cell(cell: GridCell, step: GridProgress) -> None:
            run.cells[(cell.document_id, cell.question)] = cell
            run.progress = step
            if run.cancel_requested:
                raise GridCancelled

        try:
            grid = fill(on_cell)
        except GridCancelled:
            run.state = RunState.CANCELLED
        except Exception as exc:  # a failing model server, a store gone: the run says why; the thread goes on
            log.exception("grid %s failed", run.id)
            run.state, run.error = RunState.FAILED, f"{type(exc).__name__}: {exc}"[:300]
        else:
            run.cells.update(grid.cells)
            run.answered = grid.answered
            run.state = RunState.DONE
        run.finished_at = time.time()

    def _forget_old(self) -> None:
        finished = sorted((r for r in self._runs.values() if r.finished), key=lambda r: r.started_at)
        for run in finished[: max(0, len(finished) - self.kept)]:
            del self._runs[run.id]
