"""Parse files in a separate process under time and memory limits, so a hostile file cannot hang or kill the app."""

from __future__ import annotations

import os
import pickle
import select
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ingest.parse_server import _HEADER, write_message
from ingest.readers import PictureText
from ingest.reading import ParsedDocument, ReadFailure, ReadLimits
from ingest.splitter import SplitSpec
from storage.records import DocState


@dataclass(frozen=True)
class WorkerLimits:
    timeout_s: float = 120.0
    timeout_s_per_mb: float = 60.0  # big files get longer: a 6.5 MB, 3,500-page manual needs minutes on 2 busy cores
    memory_mb: int = 2048
    read: ReadLimits = ReadLimits()
    split: SplitSpec | None = None  # the worker splits pages into passages as it reads them, this way


class _Deadline(Exception):
    pass


class ParseWorker:
    """A long-lived parsing child process; killed and restarted when a file breaks a limit."""

    def __init__(self, limits: WorkerLimits) -> None:
        self.limits = limits
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            read = self.limits.read
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "ingest.parse_server", "--memory-mb", str(self.limits.memory_mb),
                 "--max-pages", str(read.max_pages), "--page-timeout", str(read.page_timeout_s),
                 "--ocr-languages", read.ocr_languages if read.ocr else "",
                 "--max-pictures", str(read.max_pictures if read.ocr_pictures else 0),
                 "--text-processes", str(read.text_processes),
                 *(["--split-tokenizer", self.limits.split.tokenizer, "--chunk-size", str(self.limits.split.chunk_size),
                    "--chunk-overlap", str(self.limits.split.chunk_overlap)] if self.limits.split is not None else [])],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                cwd=Path(__file__).resolve().parent.parent,
            )
        return self._proc

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            for stream in (self._proc.stdin, self._proc.stdout):
                if stream is not None:
                    stream.close()
            self._proc = None

    def time_limit(self, path: Path) -> float:
        """Wall-clock limit for one file: the base limit plus an allowance per MB."""
        try:
            size_mb = path.stat().st_size / 2**20
        except OSError:
            size_mb = 0.0
        return self.limits.timeout_s + self.limits.timeout_s_per_mb * size_mb

    def parse(self, path: Path) -> ParsedDocument:
        """Return the parsed pages, or raise ReadFailure with the state the file ends in."""
        result = self._ask(path, str(path.resolve()))
        assert isinstance(result, ParsedDocument)
        return result

    def read_pictures(self, path: Path, pages: Sequence[int]) -> PictureText:
        """The text of the large pictures on these pages of a PDF (see ingest.readers.read_pictures), under the same
        limits as a reading; raises ReadFailure when they are broken."""
        result = self._ask(path, ("pictures", str(path.resolve()), list(pages)))
        assert isinstance(result, PictureText)
        return result

    def warm(self) -> None:
        """Start the process and load its readers, so the first file is read at full speed (the app and the API do
        this when they start). Harmless when it is already running."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return
        with suppress(ReadFailure):
            self._ask(Path("."), "warm")

    def _ask(self, path: Path, request: object) -> object:
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            limit = self.time_limit(path)
            deadline = time.monotonic() + limit
            try:
                write_message(proc.stdin.fileno(), request)
                header = self._read(proc.stdout.fileno(), _HEADER.size, deadline)
                if header is not None:
                    (length,) = _HEADER.unpack(header)
                    body = self._read(proc.stdout.fileno(), length, deadline)
                else:
                    body = None
            except _Deadline:
                self._stop()
                raise ReadFailure(DocState.TOO_LARGE,
                                  f"reading it took longer than its {limit:.0f} s time limit") from None
            except (BrokenPipeError, OSError):
                body = None
            if body is None:
                code = proc.wait(5)
                self._stop()
                raise ReadFailure(
                    DocState.TOO_LARGE,
                    f"the reader process died (exit code {code}), most likely at the "
                    f"{self.limits.memory_mb:,} MiB memory limit",
                )
        result = pickle.loads(body)  # noqa: S301 - our own child process wrote it
        if isinstance(result, ReadFailure):
            raise result
        return result

    @staticmethod
    def _read(fd: int, size: int, deadline: float) -> bytes | None:
        data = bytearray()
        poller = select.poll()  # not select.select: it fails on descriptors above 1023
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Deadline
            if not poller.poll(remaining * 1000):
                raise _Deadline
            part = os.read(fd, min(size - len(data), 1 << 20))
            if not part:
                return None
            data += part
        return bytes(data)
