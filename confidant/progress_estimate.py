"""Pages/s and a time-remaining estimate for long ingests.

The total number of pages is unknown until every file is parsed, so the estimate runs on bytes: the bytes of the
files still to do, at the rate (bytes per second) of the files actually indexed in this run. Files skipped as
duplicates or refused at once count as done but do not speed the rate up, so a resumed run does not promise too
early an end.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from storage.records import DocState, FileResult


class Estimate:
    def __init__(self, sizes: dict[str, int], clock: Callable[[], float] = time.monotonic) -> None:
        self.sizes = sizes
        self.total_bytes = sum(sizes.values())
        self._clock = clock
        self._finished_bytes = 0  # files finished, any outcome
        self._worked_bytes = 0.0  # bytes of indexed files (and the done share of the current one)
        self._current = 0.0
        self._pages_done = 0
        self._current_pages = 0
        self._started = 0.0

    def _now(self) -> float:
        return self._clock()

    def start(self) -> None:
        self._started = self._now()

    def update(self, file: str, pages: int, file_pages: int, result: FileResult | None) -> None:
        size = self.sizes.get(file, 0)
        if result is None:
            self._current = size * min(1.0, pages / file_pages) if file_pages else 0.0
            self._current_pages = pages
            return
        self._finished_bytes += size
        self._current = 0.0
        self._current_pages = 0
        if result.state is DocState.INDEXED and "current again" not in result.reason:
            self._worked_bytes += size
            self._pages_done += result.pages

    @property
    def done_bytes(self) -> float:
        return self._finished_bytes + self._current

    @property
    def pages(self) -> int:
        return self._pages_done + self._current_pages

    def _elapsed(self) -> float:
        return max(1e-9, self._now() - self._started)

    def rate_text(self) -> str:
        return f"{self.pages / self._elapsed():.1f} pages/s" if self.pages else ""

    def eta_seconds(self) -> float | None:
        worked = self._worked_bytes + self._current
        if worked <= 0:
            return None
        remaining = max(0.0, self.total_bytes - self.done_bytes)
        return remaining / (worked / self._elapsed())

    def eta_text(self) -> str:
        return eta_clock(self.eta_seconds())


class RecentRate:
    """Work per second over the last `window_s` seconds (the whole run until that much has passed). The vectors of
    an ingest are embedded at one speed while the worker reads files beside them and about 1.4× faster once reading
    ends; the rate of the whole run so far would go on promising the slower speed long after (measured on a
    10,000-page folder: ETA 1.26× too long at a tenth of the run)."""

    def __init__(self, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._started = clock()
        self._samples: deque[tuple[float, float]] = deque([(self._started, 0.0)])

    def add(self, done: float) -> None:
        """The total done so far."""
        now = self._clock()
        self._samples.append((now, done))
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window_s:
            self._samples.popleft()

    def per_s(self) -> float | None:
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 and d1 > d0 else None


def seconds_left(passages_left: int, passages_per_s: float | None, pictures_left_s: float | None) -> float | None:
    """What a whole ingest still waits for: its passages at the embedding speed, then the pictures still to read
    (they are read after the last vector), at the speed measured on those read so far — left out until some are."""
    if not passages_per_s:
        return None
    return passages_left / passages_per_s + (pictures_left_s or 0.0)


def eta_clock(seconds: float | None) -> str:
    """'ETA ~1:02:03' / 'ETA ~2:05', or 'ETA …' while there is no estimate yet."""
    if seconds is None:
        return "ETA …"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"ETA ~{hours}:{minutes:02d}:{secs:02d}" if hours else f"ETA ~{minutes}:{secs:02d}"
