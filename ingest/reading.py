"""What every reader shares: the parsed pages, the limits they are read under, and the failure that says why a file
cannot be read (ingest/readers.py holds the PDF, Word and text readers; html_reader.py and pptx_reader.py the
others)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Protocol

from ingest.normalize import normalize_text
from storage.records import DocState

if TYPE_CHECKING:
    from ingest.splitter import TokenSplitter


class ReadFailure(Exception):
    """The file cannot be read; `state` and `reason` say why in words a user understands."""

    def __init__(self, state: DocState, reason: str) -> None:
        super().__init__(state, reason)
        self.state = state
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


@dataclass
class ParsedDocument:
    """The text of each page (index 0 is page 1), notes about skipped pages, which pages were OCR'd, the title the
    file gives itself (an HTML <title>, a presentation's title property) when it has one, and the pages whose
    pictures are still to be read (ingest.readers.read_pictures)."""

    pages: list[str]
    notes: list[str] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)
    title: str = ""
    picture_pages: list[int] = field(default_factory=list)  # pages whose large pictures are still to be read
    # each page's passages (start, end), when the reader split them as it read (None for a page it did not), and the
    # splitting they were made by (TokenSplitter.identity)
    spans: list[list[tuple[int, int]] | None] | None = None
    split_by: str = ""

    def split(self, splitter: TokenSplitter | None) -> None:
        """Fill in the passages of every page not split yet."""
        if splitter is None:
            return
        spans = self.spans if self.spans is not None and len(self.spans) == len(self.pages) else [None] * len(self.pages)
        self.spans = [given if given is not None else splitter.spans(text) for given, text in zip(spans, self.pages,
                                                                                                  strict=True)]
        self.split_by = splitter.identity

    @property
    def characters(self) -> int:
        return sum(len(p) for p in self.pages)


@dataclass(frozen=True)
class ReadLimits:
    max_pages: int = 5000
    page_timeout_s: float = 20.0
    ocr: bool = True  # OCR pages without a text layer when tesseract is installed
    ocr_languages: str = "eng"
    ocr_pictures: bool = True  # also read large pictures (tables pasted as images) on pages that have text
    max_pictures: int = 20  # per document, so a picture-heavy file cannot take hours
    # processes reading a long PDF's text at once: the parsing worker forks a helper for the second half (only the
    # worker: it is single-threaded and under its own memory limit), so a 300-page report is read in half the time
    text_processes: int = 2
    # splits pages into passages as they are read (in the worker and its helpers: the main process then only
    # indexes them); None leaves splitting to the pipeline
    splitter: TokenSplitter | None = field(default=None, compare=False)


class Reader(Protocol):
    def read(self, path: Path, limits: ReadLimits) -> ParsedDocument: ...


class PageTimeout(Exception):
    pass


@contextmanager
def page_time_limit(seconds: float) -> Iterator[None]:
    """Interrupt a slow page (only in a process's main thread, as in the worker)."""

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise PageTimeout

    try:
        previous = signal.signal(signal.SIGALRM, on_alarm)
    except ValueError:  # not the main thread: no per-page alarm, the worker's wall clock still applies
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def brief_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def read_one(read: Callable[[], str], what: str, doing: str, limits: ReadLimits, notes: list[str],
             fallback: Callable[[], str] | None = None) -> str:
    """The normalized text `read()` gives for one page or slide, under the page time limit; "" with a note in
    `notes` when it fails or takes too long, so one broken page never loses the others. When `read()` fails (not
    when it takes too long) and there is a `fallback`, the fallback is read the same way instead, without a note."""
    try:
        with page_time_limit(limits.page_timeout_s):
            raw = read()
    except PageTimeout:
        notes.append(f"{what} skipped: {doing} took over {limits.page_timeout_s:g} s")
        raw = ""
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - one broken page must not lose the others
        if fallback is not None:
            return read_one(fallback, what, doing, limits, notes)
        notes.append(f"{what} skipped: {brief_error(exc)}")
        raw = ""
    return normalize_text(raw)


def too_many_pages(count: int, limits: ReadLimits, what: str = "pages") -> None:
    if count > limits.max_pages:
        raise ReadFailure(DocState.TOO_LARGE, f"{count:,} {what} is more than the {limits.max_pages:,}-page limit")
