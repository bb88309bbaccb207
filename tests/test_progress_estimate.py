"""The ingest ETA: bytes still to do at the rate of files actually indexed; skipped files do not speed it up."""

from confidant.progress_estimate import Estimate, seconds_left
from storage.records import DocState, FileResult


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def done(name: str, state: DocState, pages: int = 0) -> FileResult:
    return FileResult(name, "id", "c", state, pages=pages)


def test_eta_follows_the_indexing_rate_not_the_skipped_files() -> None:
    clock = Clock()
    estimate = Estimate({"a": 1000, "b": 1000, "c": 2000}, clock)
    estimate.start()
    assert estimate.eta_text() == "ETA …"  # nothing measured yet
    estimate.update("a", 0, 0, done("a", DocState.DUPLICATE))  # skipped instantly on a resumed run
    assert estimate.eta_seconds() is None and estimate.done_bytes == 1000
    clock.now = 10.0
    estimate.update("b", 5, 10, None)  # half of b after 10 s: 500 bytes worked
    assert estimate.eta_seconds() == 2500 / 50  # 2,500 bytes left at 50 bytes/s
    clock.now = 20.0
    estimate.update("b", 10, 10, done("b", DocState.INDEXED, pages=10))
    assert estimate.pages == 10 and estimate.eta_seconds() == 2000 / 50
    assert estimate.rate_text() == "0.5 pages/s" and estimate.eta_text() == "ETA ~0:40"
    clock.now = 4020.0
    estimate.update("c", 1, 1000, None)
    assert estimate.eta_text().startswith("ETA ~")


def test_the_vectors_eta_follows_the_speed_of_the_last_minute() -> None:
    """Embedding runs at 20 passages/s while files are read beside it, then at 30: a minute after reading ends the
    rate is 30, where the run's average would still say 22 for minutes (an ETA ~1.3× too long)."""
    from confidant.progress_estimate import RecentRate

    now = [0.0]
    rate = RecentRate(window_s=60, clock=lambda: now[0])
    assert rate.per_s() is None
    done = 0.0
    for second in range(1, 241):  # four minutes of reading beside the embedding
        now[0], done = float(second), done + 20
        rate.add(done)
    assert rate.per_s() == 20
    for second in range(241, 302):  # reading has ended
        now[0], done = float(second), done + 30
        rate.add(done)
    assert rate.per_s() == 30
    assert done / now[0] < 22.1  # what the whole run's average says


def test_what_is_left_counts_the_pictures_once_their_speed_is_known() -> None:
    """The pictures are read after the last vector: on 10,000 pages the bar said seconds while four minutes of
    picture reading were left. Their time counts once measured; before that only the passages can be counted."""
    assert seconds_left(600, 20.0, None) == 30.0  # no picture read yet: its speed is unknown
    assert seconds_left(600, 20.0, 90.0) == 120.0
    assert seconds_left(0, 20.0, 90.0) == 90.0  # the vectors are done, the pictures are not
    assert seconds_left(600, None, 90.0) is None  # nothing measured yet
