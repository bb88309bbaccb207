"""The later stages in the background: a thread that embeds the chunks of indexed documents still without vectors
and reads their pictures (IngestPipeline.fill_pending), woken when a document is indexed and every few seconds for
work another process left (a restart resumes it: the registry is the queue). It measures its own speed for the
time-left estimate."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.pipeline import IngestPipeline, VectorCallback, VectorProgress
    from storage.records import DocumentRecord
    from storage.registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VectorQueue:
    """What is still waiting for its vectors, and about how long it will take here."""

    documents: int
    chunks: int
    seconds_left: float | None  # None until this process has measured its speed
    pictures: int = 0  # documents whose large pictures are still to be read (their text is searchable meanwhile)
    picture_seconds_left: float | None = None  # None until this process has read some pictures

    @classmethod
    def of(cls, waiting: Sequence[DocumentRecord], chunks_per_s: float | None,
           pictures: Sequence[DocumentRecord] = (), picture_s_per_page: float | None = None) -> VectorQueue:
        """The queue these documents make, at these speeds (`pictures`: those whose pictures are still to be
        read)."""
        chunks = sum(r.vectors_pending for r in waiting)
        pages = sum(r.pages for r in pictures)
        return cls(len(waiting), chunks, chunks / chunks_per_s if waiting and chunks_per_s else None, len(pictures),
                   pages * picture_s_per_page if pictures and picture_s_per_page is not None else None)

    @property
    def empty(self) -> bool:
        return not self.documents and not self.pictures

    def describe(self) -> str:
        """'keyword search only for 2 documents, about 40 s left; looking for text in the pictures of 1 document' —
        empty when nothing waits."""
        parts = []
        if self.documents:
            what = f"keyword search only for {_documents(self.documents)}"
            left = self.seconds_left
            parts.append(what + (", semantic search follows as they are embedded" if left is None
                                 else f", {_about(left)} left"))
        if self.pictures:
            left = self.picture_seconds_left
            parts.append(f"looking for text in the pictures of {_documents(self.pictures)}"
                         + ("" if left is None else f", {_about(left)} left"))
        return "; ".join(parts)


def _documents(n: int) -> str:
    return f"{n} document{'s' if n != 1 else ''}"


def _about(seconds: float) -> str:
    return f"about {seconds:.0f} s" if seconds < 90 else f"about {seconds / 60:.0f} min"


class VectorFiller:
    def __init__(self, pipeline: Callable[[], IngestPipeline], registry: Registry,
                 on_vectors: VectorCallback | None = None, *, poll_s: float = 5.0,
                 warm: Callable[[], None] | None = None) -> None:
        self.pipeline = pipeline  # loaded (the embedding model with it) only once something waits
        self.warm = warm  # run first on the thread: what makes the first upload fast (the parsing worker started)
        self.registry = registry
        self.on_vectors = on_vectors
        self.poll_s = poll_s
        self.error: BaseException | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._draining = False
        self._thread: threading.Thread | None = None
        self._finished = threading.Event()  # set when the thread ends (see _wait)
        self._lock = threading.Lock()
        self._chunks_per_s: float | None = None
        self._picture_s_per_page: float | None = None
        self._run_started = 0.0

    # --- control ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Run in the background (once; later calls only wake it)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                self._wake.set()
                return
            self._stop.clear()
            self._finished.clear()
            self._thread = threading.Thread(target=self._run, name="confidant-vectors", daemon=True)
            self._thread.start()

    def drain(self) -> None:
        """No more documents are coming from this caller: embed what is queued, then stop; waits for it."""
        self._draining = True
        self._wake.set()
        self._wait()
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """Stop after the batch being embedded (its vectors are stored and counted; the rest waits in the queue)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._wait()

    def _wait(self) -> None:
        """Until the thread has ended. Not Thread.join(): a join interrupted by Ctrl-C marks the thread as stopped
        while it still runs (CPython 3.11's bpo-45274 handling), and a second join would then return at once; short
        waits on an event also let Ctrl-C through whichever thread the signal lands on."""
        while self._thread is not None and not self._finished.wait(0.25):
            pass

    @property
    def chunks_per_s(self) -> float | None:
        """This filler's measured speed (None before its first batch)."""
        return self._chunks_per_s

    @property
    def picture_s_per_page(self) -> float | None:
        """Seconds the picture step took per page here (None before the first document's pictures are read)."""
        return self._picture_s_per_page

    # --- the thread ---------------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            if self.warm is not None:
                try:
                    self.warm()
                except Exception:  # a reader that cannot start now says why when a file is read
                    log.exception("warming up failed")
            self._fill()
        finally:
            self._finished.set()

    def _fill(self) -> None:
        while not self._stop.is_set():
            final = self._draining  # read before the pass: a document indexed just before drain() is in it
            self._run_started = time.monotonic()
            try:
                if self.registry.awaiting_vectors() or self.registry.awaiting_pictures():
                    self.pipeline().fill_pending(self._progress, self._stop)
            except Exception as exc:  # keep the app running; the queue is retried at the next wake
                log.exception("embedding the queued documents failed")
                if final:
                    self.error = exc
                    return
            if final:
                return
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _progress(self, step: VectorProgress) -> None:
        elapsed = time.monotonic() - self._run_started
        if elapsed > 0 and step.chunks_done:
            self._chunks_per_s = step.chunks_done / elapsed
        if step.picture_pages_done:
            self._picture_s_per_page = step.picture_seconds / step.picture_pages_done
        if self.on_vectors is not None:
            self.on_vectors(step)
